"""Drives the real python-telegram-bot library through the staffgate broker.

Usage: telegram_client.py BASE_URL TOKEN
Prints one JSON line with what the library saw.
"""
import asyncio
import json
import sys

from telegram import Bot
from telegram.error import InvalidToken, TelegramError


async def main(base: str, token: str) -> None:
    bot = Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot")
    out = {}
    try:
        async with bot:
            me = await bot.get_me()
            out["username"] = me.username
            await bot.send_message(chat_id=42, text="hello from an operator")
            out["sent"] = True
    except InvalidToken as e:
        out["error"] = "invalid_token"
        out["message"] = str(e)
    except TelegramError as e:
        out["error"] = type(e).__name__
        out["message"] = str(e)
    print(json.dumps(out))


asyncio.run(main(sys.argv[1], sys.argv[2]))
