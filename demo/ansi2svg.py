#!/usr/bin/env python3
"""Renders terminal text with ANSI SGR colour codes (tmux capture-pane -e) as an SVG.

Usage: tmux capture-pane -p -e | demo/ansi2svg.py [--title T] > screen.svg
Only what porttop uses is supported: 16/256 colours, bold, dim, reverse.
"""
import html
import re
import sys

PALETTE = ["#1e1e1e", "#e06c75", "#98c379", "#e5c07b", "#61afef", "#c678dd", "#56b6c2", "#dcdfe4",
           "#5c6370", "#ff7b86", "#b5e890", "#ffd68a", "#82c4ff", "#de9bf0", "#7fd4df", "#ffffff"]
FG, BG = "#dcdfe4", "#1e1e1e"


def color256(n):
    if n < 16:
        return PALETTE[n]
    if n < 232:
        n -= 16
        r, g, b = n // 36, (n // 6) % 6, n % 6
        conv = lambda v: 0 if v == 0 else 55 + 40 * v
        return "#%02x%02x%02x" % (conv(r), conv(g), conv(b))
    v = 8 + 10 * (n - 232)
    return "#%02x%02x%02x" % (v, v, v)


def parse(line):
    """Yields (text, fg, bg, bold, dim) runs of one line."""
    state = {"fg": None, "bg": None, "bold": False, "dim": False, "rev": False}
    pos = 0
    for m in re.finditer(r"\x1b\[([0-9;]*)m", line):
        if m.start() > pos:
            yield line[pos:m.start()], dict(state)
        pos = m.end()
        codes = [int(c) if c else 0 for c in m.group(1).split(";")] or [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                state.update(fg=None, bg=None, bold=False, dim=False, rev=False)
            elif c == 1:
                state["bold"] = True
            elif c == 2:
                state["dim"] = True
            elif c == 7:
                state["rev"] = True
            elif c in (22,):
                state["bold"] = state["dim"] = False
            elif c == 27:
                state["rev"] = False
            elif 30 <= c <= 37:
                state["fg"] = PALETTE[c - 30]
            elif 90 <= c <= 97:
                state["fg"] = PALETTE[c - 90 + 8]
            elif 40 <= c <= 47:
                state["bg"] = PALETTE[c - 40]
            elif 100 <= c <= 107:
                state["bg"] = PALETTE[c - 100 + 8]
            elif c in (38, 48) and i + 2 < len(codes) and codes[i + 1] == 5:
                state["fg" if c == 38 else "bg"] = color256(codes[i + 2])
                i += 2
            elif c == 39:
                state["fg"] = None
            elif c == 49:
                state["bg"] = None
            i += 1
    if pos < len(line):
        yield line[pos:], dict(state)


def main():
    title = "porttop"
    if len(sys.argv) > 2 and sys.argv[1] == "--title":
        title = sys.argv[2]
    lines = sys.stdin.read().rstrip("\n").split("\n")
    cw, ch = 8.4, 17
    width = max(len(re.sub(r"\x1b\[[0-9;]*m", "", l)) for l in lines) if lines else 80
    w, h = int(cw * max(width, 80) + 20), int(ch * len(lines) + 44)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">',
           f'<title>{html.escape(title)}</title>',
           f'<rect width="100%" height="100%" rx="6" fill="{BG}"/>',
           f'<text x="10" y="18" fill="#7f848e" font-size="12">{html.escape(title)}</text>']
    for row, line in enumerate(lines):
        x = 0
        y = 34 + row * ch
        for text, st in parse(line):
            fg, bg = st["fg"] or FG, st["bg"]
            if st["rev"]:
                fg, bg = (st["bg"] or BG), (st["fg"] or FG)
            n = len(text)
            if bg:
                out.append(f'<rect x="{10 + x * cw:.1f}" y="{y:.0f}" width="{n * cw:.1f}" '
                           f'height="{ch}" fill="{bg}"/>')
            if text.strip():
                attrs = ' font-weight="bold"' if st["bold"] else ""
                if st["dim"]:
                    attrs += ' opacity="0.6"'
                out.append(f'<text x="{10 + x * cw:.1f}" y="{y + 13:.0f}" fill="{fg}"{attrs} '
                           f'xml:space="preserve">{html.escape(text)}</text>')
            x += n
    out.append("</svg>")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
