"""A real HTTP client as operators' tools use it: python `requests`, which asks for
compressed answers and decodes them by default. Prints the answer's headers and its
decoded body, so the test can look for the secret in what the tool would see."""

import sys

import requests


def main() -> None:
    url = sys.argv[1]
    headers = {}
    if len(sys.argv) > 2 and sys.argv[2]:
        headers["Authorization"] = "Bearer " + sys.argv[2]
    r = requests.get(url, headers=headers, timeout=10)
    out = sys.stdout.buffer
    out.write(f"status: {r.status_code}\n".encode())
    out.write(f"asked: {r.request.headers.get('Accept-Encoding', '')}\n".encode())
    for k, v in r.headers.items():
        out.write(f"{k}: {v}\n".encode())
    out.write(b"\n")
    out.write(r.content)


if __name__ == "__main__":
    main()
