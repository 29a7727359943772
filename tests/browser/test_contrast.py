"""The dashboard's colour pairs meet WCAG 2.x AA (4.5:1 for text) in both schemes, read from web/src/styles.css."""

import re

from conftest import ROOT

# (foreground, background) custom properties used together for text.
TEXT_PAIRS = [
    ("--text", "--surface"), ("--text", "--bg"), ("--text-muted", "--surface"), ("--text-muted", "--bg"),
    ("--text-muted", "--surface-2"), ("--accent", "--surface"), ("--accent", "--accent-soft"),
    ("--on-accent", "--accent-strong"), ("--good", "--good-soft"), ("--bad", "--bad-soft"), ("--warn", "--warn-soft"),
    ("--bad", "--surface"), ("--text", "--accent-soft"),
]


def schemes():
    css = (ROOT / "web" / "src" / "styles.css").read_text()
    light = re.search(r":root\s*{(.*?)}", css, re.S).group(1)
    dark = re.search(r"prefers-color-scheme: dark\)\s*{\s*:root\s*{(.*?)}", css, re.S).group(1)
    read = lambda block: dict(re.findall(r"(--[a-z0-9-]+):\s*(#[0-9a-fA-F]{6})\s*;", block))
    base = read(light)
    return {"light": base, "dark": {**base, **read(dark)}}


def luminance(colour):
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a, b):
    high, low = sorted([luminance(a), luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_colours_pass_wcag_aa_in_light_and_dark():
    failures = []
    for scheme, colours in schemes().items():
        for foreground, background in TEXT_PAIRS:
            ratio = contrast(colours[foreground], colours[background])
            if ratio < 4.5:
                failures.append(f"{scheme}: {foreground} on {background} is {ratio:.2f}:1")
    assert not failures, failures
