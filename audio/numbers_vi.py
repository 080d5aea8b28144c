"""Vietnamese number words: cardinals (with the mốt / lăm / tư / linh rules), decimals,
digit-by-digit reading, ordinals and Roman numerals. Pure functions, no I/O."""
from __future__ import annotations

DIGITS = ["không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"]
SCALES = ["", "nghìn", "triệu"]  # above triệu: tỷ, read recursively (một nghìn tỷ)
ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def _unit_after_tens(unit: int, tens: int) -> str:
    if unit == 1 and tens >= 2:
        return "mốt"
    if unit == 4 and tens >= 2:
        return "tư"
    if unit == 5 and tens >= 1:
        return "lăm"
    return DIGITS[unit]


def _triple(n: int, full: bool) -> list[str]:
    """0..999; `full` = a group after a higher one (reads 'không trăm', 'linh')."""
    hundreds, tens, unit = n // 100, n // 10 % 10, n % 10
    words: list[str] = []
    if hundreds or full:
        words += [DIGITS[hundreds], "trăm"]
    if tens == 0:
        if unit:
            if words:
                words.append("linh")
            words.append(DIGITS[unit])
        return words
    words += ["mười"] if tens == 1 else [DIGITS[tens], "mươi"]
    if unit:
        words.append(_unit_after_tens(unit, tens))
    return words


def _below_billion(n: int, full: bool) -> list[str]:
    groups = [n // 1_000_000, n // 1000 % 1000, n % 1000]
    words: list[str] = []
    for i, group in enumerate(groups):
        scale = SCALES[2 - i]
        if group == 0:
            continue
        words += _triple(group, full or bool(words))
        if scale:
            words.append(scale)
    return words


def cardinal(n: int) -> str:
    """5628 -> 'năm nghìn sáu trăm hai mươi tám'; 105 -> 'một trăm linh năm'."""
    if n < 0:
        return "âm " + cardinal(-n)
    if n == 0:
        return "không"
    words: list[str] = []
    billions, rest = divmod(n, 1_000_000_000)
    if billions:
        words += cardinal(billions).split() + ["tỷ"]
    if rest:
        words += _below_billion(rest, bool(billions))
    return " ".join(words)


def digits(text: str) -> str:
    """'0912' -> 'không chín một hai' (phone numbers, codes)."""
    return " ".join(DIGITS[int(c)] for c in text if c.isdigit())


def number(text: str) -> str:
    """A number as written in Vietnamese: '.' groups thousands, ',' is the decimal comma.
    '5.628' -> năm nghìn..., '45,3' -> bốn mươi lăm phẩy ba, '2.5' (not a group of 3) -> phẩy.
    Two commas or more between groups of 3 are thousands typed the English way: '1,500,000'."""
    groups = text.split(",")
    if len(groups) > 2 and "." not in text and all(len(g) == 3 for g in groups[1:]):
        return cardinal(int("".join(groups)))
    whole, _, frac = text.partition(",")
    parts = whole.split(".")
    if len(parts) > 1 and not all(len(p) == 3 for p in parts[1:]):
        whole, frac = parts[0], "".join(parts[1:]) if not frac else frac
    else:
        whole = "".join(parts)
    out = cardinal(int(whole)) if whole else "không"
    if frac:
        frac = frac.replace(".", "")
        spoken = digits(frac) if frac.startswith("0") or len(frac) > 3 else cardinal(int(frac))
        out += " phẩy " + spoken
    return out


def ordinal(n: int) -> str:
    """thứ 1 -> thứ nhất, thứ 4 -> thứ tư (also 'lần thứ 4')."""
    return {1: "nhất", 4: "tư"}.get(n, cardinal(n))


def roman(text: str) -> int | None:
    """'III' -> 3, 'XIV' -> 14; None when it is not a well-formed Roman numeral."""
    if not text or any(c not in ROMAN for c in text):
        return None
    total = 0
    for i, c in enumerate(text):
        value = ROMAN[c]
        if i + 1 < len(text) and ROMAN[text[i + 1]] > value:
            total -= value
        else:
            total += value
    return total if to_roman(total) == text else None


def to_roman(n: int) -> str:
    out = ""
    for value, sym in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"),
                       (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out, n = out + sym, n - value
    return out
