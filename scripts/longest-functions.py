#!/usr/bin/env python3
"""Prints the longest functions under src/ (lines from `fn` to its closing brace), for
ARCHITECTURE.md: `python3 scripts/longest-functions.py`."""
import re,sys,pathlib
res=[]
for p in pathlib.Path('src').rglob('*.rs'):
    lines=p.read_text().split('\n')
    i=0
    while i<len(lines):
        m=re.match(r'\s*(pub(\([^)]*\))?\s+)?(async\s+)?fn\s+(\w+)',lines[i])
        if m:
            depth=0;started=False;j=i
            while j<len(lines):
                for ch in lines[j]:
                    if ch=='{': depth+=1;started=True
                    elif ch=='}': depth-=1
                if started and depth==0: break
                if not started and lines[j].rstrip().endswith(';'): break
                j+=1
            if started: res.append((j-i+1,f"{p}::{m.group(4)}"))
        i+=1
res.sort(reverse=True)
for n,f in res[:8]: print(n,f)
