"""Vietnamese text as it is spoken: numbers, dates, times, ordinals, money, phone
numbers, units, Roman numerals and the abbreviations of commune news spelled out, so
that a TTS engine reads a typed announcement the way a village head would.

`normalize(text, extra_abbreviations)` is pure; the result never contains a digit.
"""
from __future__ import annotations

import re
from typing import Mapping

from audio.numbers_vi import cardinal, digits, number, ordinal, roman

# Administrative abbreviations of commune and district news; a technician extends them
# with [audio] abbreviations = {"KDC" = "khu dân cư"} in the config.
ABBREVIATIONS: dict[str, str] = {
    "UBND": "ủy ban nhân dân", "HĐND": "hội đồng nhân dân", "UBMTTQ": "ủy ban mặt trận tổ quốc",
    "MTTQVN": "mặt trận tổ quốc Việt Nam", "MTTQ": "mặt trận tổ quốc", "TP": "thành phố", "TX": "thị xã",
    "TT": "thị trấn", "CCCD": "căn cước công dân", "CMND": "chứng minh nhân dân", "BCĐ": "ban chỉ đạo",
    "CĐS": "chuyển đổi số", "BCH": "ban chấp hành", "HTX": "hợp tác xã", "THCS": "trung học cơ sở",
    "THPT": "trung học phổ thông", "BHYT": "bảo hiểm y tế", "BHXH": "bảo hiểm xã hội",
    "CSGT": "cảnh sát giao thông", "PCCC": "phòng cháy chữa cháy", "PCCR": "phòng cháy chữa cháy rừng",
    "NTM": "nông thôn mới", "KDC": "khu dân cư", "TDP": "tổ dân phố", "GPMB": "giải phóng mặt bằng",
    "ATGT": "an toàn giao thông", "ANTT": "an ninh trật tự", "PCTT": "phòng chống thiên tai",
    "TKCN": "tìm kiếm cứu nạn", "VSATTP": "vệ sinh an toàn thực phẩm", "ATTP": "an toàn thực phẩm",
    "QĐ": "quyết định", "NĐ": "nghị định", "CP": "chính phủ", "TTg": "thủ tướng", "BTTTT": "bộ thông tin và truyền thông",
    "TW": "trung ương", "ĐBQH": "đại biểu quốc hội", "QH": "quốc hội", "VN": "Việt Nam", "ĐTN": "đoàn thanh niên",
    "HLHPN": "hội liên hiệp phụ nữ", "LHPN": "liên hiệp phụ nữ", "CCB": "cựu chiến binh", "HND": "hội nông dân",
    "CA": "công an", "CAX": "công an xã", "QL": "quốc lộ", "ĐT": "đường tỉnh", "KT-XH": "kinh tế xã hội",
    "GĐVH": "gia đình văn hóa", "ĐVHC": "đơn vị hành chính", "BHTN": "bảo hiểm thất nghiệp",
    "THTT": "truyền thanh thông minh", "Đ/c": "đồng chí", "đ/c": "đồng chí", "PGS": "phó giáo sư",
    "TS": "tiến sĩ", "ThS": "thạc sĩ", "BS": "bác sĩ", "KCN": "khu công nghiệp", "CNTT": "công nghệ thông tin",
    "SXKD": "sản xuất kinh doanh", "NQ": "nghị quyết", "TT-BTTTT": "thông tư bộ thông tin và truyền thông",
    "TT-BYT": "thông tư bộ y tế", "TT-BTC": "thông tư bộ tài chính", "NĐ-CP": "nghị định chính phủ",
    "QĐ-TTg": "quyết định thủ tướng", "QĐ-UBND": "quyết định ủy ban nhân dân", "NQ-CP": "nghị quyết chính phủ", "VOV": "vê ô vê", "VTV": "vê tê vê", "HTX NN": "hợp tác xã nông nghiệp",
    "SĐT": "số điện thoại", "tr.đ": "triệu đồng", "trđ": "triệu đồng", "UBKT": "ủy ban kiểm tra",
    "HĐND-UBND": "hội đồng nhân dân, ủy ban nhân dân", "ĐVT": "đơn vị tính", "CT-XH": "chính trị xã hội",
    "THCS-THPT": "trung học cơ sở và trung học phổ thông", "MN": "mầm non", "TH": "tiểu học",
}

# "TP. Thanh Hóa", "P. Ba Đình", "Q. Hoàn Kiếm": an address prefix with its dot, before a name
PLACE_PREFIXES = {"TP": "thành phố", "TX": "thị xã", "TT": "thị trấn", "Q": "quận", "P": "phường", "H": "huyện", "X": "xã"}
# "3/5 thôn", "2/3 số hộ": a fraction, not a date, before these words
COUNTED = r"(?:thôn|xã|hộ|số|người|trường|đơn vị|cơ sở|tiêu chí|chỉ tiêu|khu|tổ|làng|bản|xóm|huyện|phường|lớp|em|cháu|ca|mục tiêu)"

# units after a number (longest first so km/h wins over km)
UNITS: list[tuple[str, str]] = [
    ("km/h", "ki lô mét trên giờ"), ("km²", "ki lô mét vuông"), ("km2", "ki lô mét vuông"), ("km", "ki lô mét"),
    ("m²", "mét vuông"), ("m2", "mét vuông"), ("m³", "mét khối"), ("m3", "mét khối"), ("cm", "xen ti mét"),
    ("mm", "mi li mét"), ("ha", "héc ta"), ("kg", "ki lô gam"), ("g", "gam"), ("l", "lít"), ("ml", "mi li lít"),
    ("°C", "độ C"), ("ºC", "độ C"), ("oC", "độ C"), ("°", "độ"), ("%", "phần trăm"), ("m", "mét"),
    ("VNĐ", "đồng"), ("VND", "đồng"), ("đ", "đồng"), ("USD", "đô la Mỹ"), ("$", "đô la"),
    ("kW", "ki lô oát"), ("kWh", "ki lô oát giờ"), ("mm/h", "mi li mét một giờ"), ("h", "giờ"),
    ("tr", "triệu"), ("k", "nghìn"), ("K", "nghìn"),   # chat-style: "1,5tr", "500k"
]

# Emoji and pictographs are a phone's decoration, not words: an engine reads their names
# aloud ("🎉" -> "pháo giấy bữa tiệc", "✅" -> "dấu chọn đậm màu trắng"). They go, with the
# flags, keycaps ("1️⃣" keeps its 1), skin tones, joiners and variation selectors around them;
# so do arrows and geometric shapes (bullets, ▶).
EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2300-\u23FF\u2190-\u21FF\u25A0-\u25FF"
                   "\uFE0E\uFE0F\u200D\u20E3\U000E0020-\U000E007F]+")
# what makes "2.5" before it a decimal, not the 2nd of May: money and chat-style magnitudes
MAGNITUDES = r"(?:tỷ|tỉ|triệu|nghìn|ngàn|trăm|tr|k|K|đồng|USD|VNĐ|VND|đ|%)"

ROMAN_AFTER = r"(?:quý|khóa|khoá|kỳ|đại hội|thế kỷ|thứ|lần|phần|chương|mục|cấp|vùng|quân khu|khu vực)"
NUM = r"\d+(?:[.,]\d+)*"
B = r"(?<![\w])"   # word start (letters, digits, Vietnamese)
NB = r"(?<![\w.,])"  # number start: not inside 5.628 or 45,3
E = r"(?![\w])"    # word end


def _sub(pattern: str, repl, text: str, flags: int = 0) -> str:
    return re.sub(pattern, repl, text, flags=flags)


def _abbreviations(text: str, table: Mapping[str, str]) -> str:
    """Spelled out as written; one in capitals of 3 letters or more also as a phone's
    keyboard types it ("ubnd", "Htx", "bhyt"): no Vietnamese word is spelled so. Shorter
    ones stay case-exact ("CA" công an, but "ca" a shift; "MN" mầm non, but "mn" mọi người)."""
    for abbr in sorted(table, key=len, reverse=True):
        letters = [c for c in abbr if c.isalpha()]
        any_case = len(letters) >= 3 and all(c.isupper() for c in letters)
        text = re.sub(B + re.escape(abbr) + E, table[abbr], text, flags=re.IGNORECASE if any_case else 0)
    return text


def _place_prefixes(text: str) -> str:
    def place(m: re.Match[str]) -> str:
        return f"{PLACE_PREFIXES[m[1]]} " if m[2].isupper() else m[0]

    return _sub(r"(?<![\w.])(" + "|".join(PLACE_PREFIXES) + r")\.\s*(?=([^\W\d_]))", place, text)


def _decimals(text: str) -> str:
    """A decimal typed with a dot on a phone's English keyboard, where it cannot be a date:
    "2.5 triệu", "7.5%", "1.2 tỷ", "3.5 km" (not "ngày hai tháng năm triệu"); and "1tr5",
    "2k5" (1,5 triệu, 2,5 nghìn). Three digits after the dot stay thousands (1.500 ha)."""
    units = "|".join(re.escape(u) for u, _ in UNITS if u not in ("h", "g"))  # 7.30h is a time
    text = _sub(NB + r"(\d+)\.(\d{1,2})(?=\s?(?:" + MAGNITUDES + "|" + units + r")(?![\w²³]))", r"\1,\2", text)
    return _sub(NB + r"(\d+)(tr|k|K)(\d{1,2})" + E, lambda m: f"{m[1]},{m[3]} {dict(UNITS)[m[2]]}", text)


def _per(text: str) -> str:
    """"đồng/người/năm" -> đồng một người một năm; "mm/24h" -> mi li mét trên hai mươi bốn giờ."""
    text = _sub(r"(đồng|triệu|nghìn|tỷ|phần trăm|người|hộ|lượt|con|suất|kg|tấn|tạ|lít|ha|giờ|ngày|tháng|năm)/(?=[^\W\d_])",
                r"\1 một ", text)
    words = {u: w for u, w in UNITS if len(u) > 1 and u.isalnum() or u in ("m²", "m³", "km²")}
    text = _sub(r"(?<=một )(" + "|".join(re.escape(u) for u in sorted(words, key=len, reverse=True)) + r")(?![\w²³])",
                lambda m: words[m[1]], text)
    return _sub(r"(?<=[^\W\d_])/(?=[^\W\d_])", " trên ", text)


def _date(day: str, month: str, year: str | None, lead: str) -> str:
    words = f"{lead or 'ngày '}{cardinal(int(day))} tháng {_month(int(month))}"
    return words + (f" năm {cardinal(int(year))}" if year else "")


def _month(m: int) -> str:
    return "tư" if m == 4 else cardinal(m)


def _dates(text: str) -> str:
    def full(m: re.Match[str]) -> str:
        if not (1 <= int(m["d"]) <= 31 and 1 <= int(m["m"]) <= 12):
            return m[0]
        return _date(m["d"], m["m"], m["y"], m["lead"] or "")

    def span(m: re.Match[str]) -> str:
        d1, d, mo = int(m["d1"]), int(m["d"]), int(m["m"])
        if 1 <= d1 < d <= 31 and 1 <= mo <= 12:
            return f"{cardinal(d1)} đến {_date(m['d'], m['m'], m['y'], '')}"
        # not a span of days (20-25/13, 5-3/12): the numbers, so that no later rule reads "5-3" as a date
        return f"{cardinal(d1)} đến {cardinal(d)} trên {cardinal(mo)}" + (f" trên {cardinal(int(m['y']))}" if m["y"] else "")

    # 20/11 - 25/11, 30/11-2/12/2025: two dates, "đến" between them (not "20/" and a span 11-25/11)
    text = _sub(NB + r"(\d{1,2}/\d{1,2}(?:/\d{4})?)\s?[-–]\s?(?=\d{1,2}/\d{1,2}" + E + r"|\d{1,2}/\d{1,2}/\d{4}" + E + ")",
                r"\1 đến ", text)
    # 20-25/11, 3-5/12/2024: hai mươi đến ngày hai mươi lăm tháng mười một
    text = _sub(r"(?<![\w.,/])(?P<d1>\d{1,2})\s?[-–]\s?(?P<d>\d{1,2})/(?P<m>\d{1,2})(?:/(?P<y>\d{4}))?" + E, span, text)
    text = _sub(NB + r"24/7" + E, "hai mươi tư trên bảy", text)   # round the clock
    text = _sub(NB + r"(\d{1,2})/(\d{1,2})(?=\s" + COUNTED + E + ")",
                lambda m: f"{cardinal(int(m[1]))} trên {cardinal(int(m[2]))}", text)   # 3/5 thôn
    text = _sub(NB + r"(?P<lead>(?:[Nn]gày|[Hh]ôm) )?(?P<d>\d{1,2})[/\-.](?P<m>\d{1,2})(?:[/\-.](?P<y>\d{4}))?" + E, full, text)
    text = _sub(r"(?P<lead>[Tt]háng) (?P<m>\d{1,2})[/\-.](?P<y>\d{4})" + E,
                lambda m: f"{m['lead']} {_month(int(m['m']))} năm {cardinal(int(m['y']))}" if 1 <= int(m["m"]) <= 12 else m[0], text)
    return _sub(r"([Tt]háng) (\d{1,2})" + E, lambda m: f"{m[1]} {_month(int(m[2]))}", text)


def _times(text: str) -> str:
    def hm(m: re.Match[str]) -> str:
        h, mins = int(m["h"]), m["min"]
        if h > 24 or (mins and int(mins) > 59):
            return m[0]
        spoken = f"{cardinal(h)} giờ"
        if mins and int(mins):
            spoken += f" {cardinal(int(mins))} phút" if m["sep"] in ("h", "g", "H") else f" {cardinal(int(mins))}"
        return spoken

    text = _sub(NB + r"(?P<h>\d{1,2})(?P<sep>[hHg])(?P<min>\d{2})?(?:p|'|ph)?" + E, hm, text)
    return _sub(NB + r"(?P<h>\d{1,2})(?P<sep>:)(?P<min>\d{2})" + E, hm, text)


def _phones(text: str) -> str:
    def phone(m: re.Match[str]) -> str:
        raw = m[0]
        lead = "cộng " if raw.startswith("+") else ""
        return lead + digits(raw)

    def phone_sized(m: re.Match[str]) -> str:  # 10-11 digits: a mobile or a landline with its area code
        return phone(m) if 10 <= len(re.sub(r"\D", "", m[0])) <= 11 else m[0]

    text = _sub(r"(?<!\w)ĐT(?=\s*:|\s*(?:\+84|0)\d)", "điện thoại", text)
    # 0912 345 678, 0912.345.678, 0912345678, +84 912 345 678, hotline 1900 xxxx
    text = _sub(NB + r"(?:\+84|0)\d{2,3}(?:[ .\-]?\d{3}){2,3}" + E, phone, text)
    # 098 765 4321, 024.3825.1234, (024) 3825 1234: groups of 3 or 4
    text = _sub(NB + r"(?:0\d{2,3}|\(0\d{2,3}\))(?:[ .\-]?\d{3,4}){2}" + E, phone_sized, text)
    text = _sub(r"(?<![\w+])\+84(?:[ .]?\d{2,3}){3,4}" + E, phone, text)
    # after "gọi", "hotline": every number of a list (gọi 113, 114 hoặc 115)
    number = r"\d{3,5}(?:[ .]\d{3,4})?"
    return _sub(r"(?i)((?:số điện thoại|điện thoại|đường dây nóng|hotline|sđt|gọi số|gọi)\s*:?\s*)("
                + number + r"(?:\s*(?:,|hoặc|và)\s*" + number + r")*)" + E,
                lambda m: m[1] + re.sub(number, lambda n: digits(n[0]), m[2]), text)


def _units(text: str) -> str:
    unit_alt = "|".join(re.escape(u) for u, _ in UNITS)
    words = dict(UNITS)

    def unit(m: re.Match[str]) -> str:
        return f"{number(m['n'])} {words[m['u']]}"

    text = _sub(NB + r"(?P<n>" + NUM + r")\s?(?P<u>" + unit_alt + r")(?![\w²³])", unit, text)
    # "50.000 đồng", "45,3 phần trăm": the number itself is read by _numbers
    return text


def _ranges(text: str) -> str:
    return _sub(r"(\d[hg]?)\s?[-–]\s?(\d)", r"\1 đến \2", text)


def _ordinals(text: str) -> str:
    text = _sub(r"(?i)(" + B + r"thứ)\s+(\d+)" + E, lambda m: f"{m[1]} {ordinal(int(m[2]))}", text)

    def rom(m: re.Match[str]) -> str:
        value = roman(m[2])
        if value is None:
            return m[0]
        spoken = ordinal(value) if m[1].lower().endswith("thứ") else cardinal(value)
        return f"{m[1]} {spoken}"

    return _sub(r"(?i)(" + B + ROMAN_AFTER + r")\s+([IVXLCDM]+)" + E, rom, text, flags=0)


def _numbers(text: str) -> str:
    text = _sub(NUM, lambda m: number(m[0]) if _is_plain(m[0]) else _fallback(m[0]), text)
    return _sub(r"\d", lambda m: f" {digits(m[0])} ", text)


def _is_plain(token: str) -> bool:
    return len(token.replace(".", "").replace(",", "")) <= 15


def _fallback(token: str) -> str:
    return " ".join(digits(part) for part in re.split(r"[.,]", token))


NO_WORDS = "has no words to read aloud (emoji and punctuation are not spoken); type the announcement"


def has_words(text: str) -> bool:
    """Is anything left to read aloud? Not in a text of emoji and punctuation only ("🎉🎉",
    "!!!"): an engine would say the names of the signs, or nothing. The same as asking
    `normalize(text)`, which keeps every letter and spells out every digit, only cheaper."""
    return bool(re.search(r"[^\W_]", EMOJI.sub("", text)))


def normalize(text: str, extra_abbreviations: Mapping[str, str] | None = None) -> str:
    """Typed text -> text to speak; never contains a digit."""
    table = dict(ABBREVIATIONS, **(extra_abbreviations or {}))
    out = EMOJI.sub(" ", text.replace("\u00a0", " "))
    out = _phones(out)
    out = _sub(r"(?<!\w)T([2-7])(?:\s?[-–]\s?T([2-7]))?" + E,   # T2, T2-T6: the days of the week
               lambda m: f"thứ {ordinal(int(m[1]))}" + (f" đến thứ {ordinal(int(m[2]))}" if m[2] else ""), out)
    out = _sub(r"(thứ (?:[2-7]|hai|ba|tư|năm|sáu|bảy)\s?(?:,|và|đến)|[Ss]áng|[Cc]hiều|[Tt]ối|[Tt]rưa|[Đđ]êm)\s?CN" + E,
               r"\1 chủ nhật", out)   # thứ bảy và CN, sáng CN: Sunday (not "công nhân" elsewhere)
    out = _sub(r"(thứ (?:[2-7]|hai|ba|tư|năm|sáu|bảy))\s?[-–]\s?CN" + E, r"\1 đến chủ nhật", out)
    out = re.sub(r"([A-ZĐ])-?(\d)", r"\1 \2", out)        # VOV1, QL1A, COVID-19: the code, then its number
    out = _sub(r"(\d+)/(\d{4})/(?=[A-ZĐ])", r"\1 năm \2 ", out)   # 39/2020/TT-BTTTT
    out = _place_prefixes(out)
    out = _abbreviations(out, table)
    out = _decimals(out)
    out = _dates(out)
    out = _sub(r"(?<!lệ )" + NB + r"(\d{1,3})/((?:19|20)\d\d)" + E, r"\1 năm \2", out)   # Đợt 1/2025; not tỷ lệ 1/2000
    out = _ranges(out)
    out = _sub(r"(?<![\w,.])-(?=\d)", "âm ", out)   # -5°C
    out = _times(out)
    out = _sub(r"(\d)\s?[x×]\s?(?=\d)", r"\1 nhân ", out)   # ảnh 3x4
    out = _ordinals(out)
    out = _sub(r"(?<=[^\W\d_])/((?:19|20)\d\d)" + E, r" năm \1", out)   # quý I/2025 -> quý một năm 2025
    out = _units(out)
    out = _per(out)
    out = _sub(r"(\d)\s*/\s*(\d)", r"\1 trên \2", out)
    out = _sub(r"(?<=\w)[-/](?=[^\W\d_])", " ", out)   # TT-BTTTT, NĐ-CP: a pause, not "trừ"
    out = out.replace("&", " và ").replace("+", " cộng ")
    out = _sub(r"(\d)(?=[^\W\d_])", r"\1 ", out)   # 1A -> một A
    out = _numbers(out)
    out = re.sub(r"[ \t]+", " ", out)
    out = re.sub(r" ([,.;:!?])", r"\1", out)
    return out.strip()
