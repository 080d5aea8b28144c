"""The Vietnamese normaliser on real commune and district news, and its number rules."""
from __future__ import annotations

import itertools
import re
import subprocess
import sys

import pytest

from audio.normalize import normalize
from audio.numbers_vi import cardinal, number, ordinal, roman

COMMUNE_NEWS = [
    # (typed announcement, phrases that must be in what is spoken)
    ("UBND xã Định Hưng thông báo: từ 7h30 ngày 5/10/2023, Trạm y tế xã tổ chức tiêm vắc xin cho trẻ em dưới 5 tuổi "
     "tại nhà văn hóa thôn. Đề nghị phụ huynh mang theo CCCD và sổ tiêm chủng.",
     ["ủy ban nhân dân xã Định Hưng", "bảy giờ ba mươi phút", "ngày năm tháng mười năm hai nghìn không trăm hai mươi ba",
      "dưới năm tuổi", "căn cước công dân"]),
    ("Kỳ họp thứ 4 HĐND xã khóa XX diễn ra ngày 14/7. Tổng thu ngân sách quý III đạt 5.628 triệu đồng, bằng 45,3% kế hoạch.",
     ["họp thứ tư", "hội đồng nhân dân xã khóa hai mươi", "ngày mười bốn tháng bảy", "quý ba",
      "năm nghìn sáu trăm hai mươi tám triệu đồng", "bốn mươi lăm phẩy ba phần trăm"]),
    ("BCĐ CĐS huyện Yên Định yêu cầu các thôn hoàn thành trước 11h thứ 6. Mức hỗ trợ 50.000 đồng/người; "
     "mọi thắc mắc xin gọi 0912 345 678.",
     ["ban chỉ đạo chuyển đổi số huyện Yên Định", "mười một giờ thứ sáu", "năm mươi nghìn đồng một người",
      "không chín một hai ba bốn năm sáu bảy tám"]),
    ("Dự báo đêm nay nhiệt độ thấp nhất 12-14°C, gió giật 60 km/h, lượng mưa 105 mm. MTTQ xã kêu gọi bà con chằng chống nhà cửa.",
     ["mười hai đến mười bốn độ C", "sáu mươi ki lô mét trên giờ", "một trăm linh năm mi li mét", "mặt trận tổ quốc xã"]),
    ("Thực hiện Thông tư 39/2020/TT-BTTTT, đài truyền thanh xã tiếp phát chương trình VOV1 từ 06:00-06:30 hằng ngày; "
     "lần thứ 1 vào ngày 21/4/2024, 21 hộ đã đăng ký với 24 ha lúa.",
     ["ba mươi chín năm hai nghìn không trăm hai mươi", "thông tư bộ thông tin và truyền thông",
      "sáu giờ đến sáu giờ ba mươi", "lần thứ nhất", "ngày hai mươi mốt tháng tư", "hai mươi mốt hộ", "hai mươi tư héc ta"]),
]


@pytest.mark.parametrize("text,expected", COMMUNE_NEWS)
def test_commune_news_is_spelled_out(text: str, expected: list[str]):
    spoken = normalize(text)
    assert not re.search(r"\d", spoken), spoken
    for phrase in expected:
        assert phrase in spoken, f"{phrase!r} not in {spoken!r}"


@pytest.mark.parametrize("n,words", [
    (0, "không"), (5, "năm"), (10, "mười"), (11, "mười một"), (14, "mười bốn"), (15, "mười lăm"), (21, "hai mươi mốt"),
    (24, "hai mươi tư"), (25, "hai mươi lăm"), (105, "một trăm linh năm"), (110, "một trăm mười"),
    (1005, "một nghìn không trăm linh năm"), (2050, "hai nghìn không trăm năm mươi"), (5628, "năm nghìn sáu trăm hai mươi tám"),
    (1_000_000, "một triệu"), (3_000_021, "ba triệu không trăm hai mươi mốt"), (10_000_000_000, "mười tỷ"),
    (1_000_000_000_000, "một nghìn tỷ"),
])
def test_cardinals_follow_the_mot_lam_tu_linh_rules(n: int, words: str):
    assert cardinal(n) == words


def test_decimal_comma_thousands_dot_ordinals_and_roman():
    assert number("45,3") == "bốn mươi lăm phẩy ba"
    assert number("0,05") == "không phẩy không năm"
    assert number("1.500.000") == "một triệu năm trăm nghìn"
    assert ordinal(1) == "nhất" and ordinal(4) == "tư" and ordinal(2) == "hai"
    assert roman("III") == 3 and roman("XIV") == 14 and roman("IIII") is None


def test_technician_extends_the_abbreviation_table():
    assert normalize("Họp KDC số 3") == "Họp khu dân cư số ba"
    assert normalize("Hội ND thôn", {"ND": "nông dân"}) == "Hội nông dân thôn"


def test_cli_tts_normalize_leaves_no_digits():
    out = subprocess.run([sys.executable, "-m", "controller", "tts", "normalize",
                          "UBND xã: ngày 2/9/2025 lúc 8h, 1.234 người, 3,5%, thứ 7, sđt 0987654321"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert "ủy ban nhân dân xã" in out and "ngày hai tháng chín" in out and "tám giờ" in out
    assert not re.search(r"\d", out), out


def test_cli_tts_normalize_spells_the_configured_abbreviations(tmp_path, capsys):
    from controller.cli import main
    from tests.conftest import house_data, write_toml

    config = write_toml(tmp_path / "langso.toml", house_data(tmp_path / "data", audio={"abbreviations": {"ND": "nông dân"}}))
    assert main(["--config", str(config), "tts", "normalize", "Hội ND thôn"]) == 0
    assert capsys.readouterr().out.strip() == "Hội nông dân thôn"


@pytest.mark.parametrize("typed,spoken", [
    ("20-25/11", "hai mươi đến ngày hai mươi lăm tháng mười một"),
    ("20-25/13", "hai mươi đến hai mươi lăm trên mười ba"),
    ("5-3/13", "năm đến ba trên mười ba"),          # was "ngày năm tháng ba/mười ba"
    ("12-5/13/2024", "mười hai đến năm trên mười ba trên hai nghìn không trăm hai mươi tư"),
    ("10-5/11", "mười đến năm trên mười một"),      # not a span of days either: was "ngày mười tháng năm/..."
])
def test_a_day_range_is_a_date_only_when_it_can_be_one(typed: str, spoken: str):
    assert normalize(typed) == spoken


def test_an_impossible_month_after_a_day_range_is_never_read_as_a_date():
    for d1, d, month in itertools.product(range(1, 32, 2), range(1, 32, 2), (0, 13, 25, 99)):
        spoken = normalize(f"{d1}-{d}/{month}")
        assert not re.search(r"ngày|tháng|/|\d", spoken), (d1, d, month, spoken)


@pytest.mark.parametrize("typed,spoken", [
    # emoji are decoration: never their names read aloud ("pháo giấy bữa tiệc"), a keycap keeps its digit
    ("🎉 Chúc mừng năm mới 2025 🎉", "Chúc mừng năm mới hai nghìn không trăm hai mươi lăm"),
    ("1️⃣ Họp ✅ 🇻🇳 👍🏽 👨‍👩‍👧 ▶ thôn", "một Họp thôn"),
    # a decimal typed with a dot on an English keyboard, where it cannot be a date
    ("7.5%", "bảy phẩy năm phần trăm"),                       # was "ngày bảy tháng năm%"
    ("2.5 triệu", "hai phẩy năm triệu"),                      # was "ngày hai tháng năm triệu"
    ("1.2 tỷ đồng", "một phẩy hai tỷ đồng"),
    ("3.5 km", "ba phẩy năm ki lô mét"),
    ("ngày 7.5", "ngày bảy tháng năm"),                        # still a date without a unit after it
    ("1.500 ha", "một nghìn năm trăm héc ta"),                 # three digits: thousands
    # thousands typed with commas, the English way
    ("1,500,000đ", "một triệu năm trăm nghìn đồng"),           # was "một phẩy năm không không..."
    ("5,000,000 VND", "năm triệu đồng"),
    ("1,5 triệu", "một phẩy năm triệu"),                      # one comma: the decimal comma
    # chat-style millions and thousands
    ("Hỗ trợ 1tr/hộ, 1,5tr/người", "Hỗ trợ một triệu một hộ, một phẩy năm triệu một người"),  # was "một tr trên hộ"
    ("Đóng 500k/hộ", "Đóng năm trăm nghìn một hộ"),
    ("1tr5", "một phẩy năm triệu"),
    ("Lãi suất 0,5%/tháng", "Lãi suất không phẩy năm phần trăm một tháng"),
    # a number and a year: "năm", not a fraction ("trên")
    ("Đợt 1/2025", "Đợt một năm hai nghìn không trăm hai mươi lăm"),
    ("Quý I/2025", "Quý một năm hai nghìn không trăm hai mươi lăm"),  # was "Quý một/hai nghìn..."
    ("bản đồ tỷ lệ 1/2000", "bản đồ tỷ lệ một trên hai nghìn"),
    # phone numbers in groups of 3 and 4, digit by digit (were amounts: "chín mươi tám bảy trăm...")
    ("anh Tuấn 098 765 4321", "anh Tuấn không chín tám bảy sáu năm bốn ba hai một"),
    ("(024) 3825 1234", "không hai bốn ba tám hai năm một hai ba bốn"),
    ("024.3825.1234", "không hai bốn ba tám hai năm một hai ba bốn"),   # was "hai mươi tư phẩy ba..."
    # emergency numbers after "gọi": each of the list (was "một trăm mười bốn" for the second)
    ("Gọi 113, 114 hoặc 115", "Gọi một một ba, một một bốn hoặc một một năm"),
    ("gọi 113 và 3 người", "gọi một một ba và ba người"),
    # abbreviations as a phone types them (were read as English letters: "ubnd")
    ("ubnd xã thông báo: Htx, bhyt, sđt", "ủy ban nhân dân xã thông báo: hợp tác xã, bảo hiểm y tế, số điện thoại"),
    ("ca sáng, mn ơi", "ca sáng, mn ơi"),                     # short ones stay case-exact: words, chat
    # two dates with a dash between them (was "từ ngày hai mươi mười một đến ngày hai mươi lăm...")
    ("từ ngày 20/11 - 25/11", "từ ngày hai mươi tháng mười một đến ngày hai mươi lăm tháng mười một"),
    ("từ 30/11-2/12/2025", "từ ngày ba mươi tháng mười một đến ngày hai tháng mười hai năm hai nghìn không trăm hai mươi lăm"),
    # days of the week as a notice board writes them (were "T hai", "xê en")
    ("làm việc T2-T6, nghỉ T7 và CN", "làm việc thứ hai đến thứ sáu, nghỉ thứ bảy và chủ nhật"),
    ("8h sáng CN, thứ 2 - CN", "tám giờ sáng chủ nhật, thứ hai đến chủ nhật"),
])
def test_what_a_phone_types_is_read_as_a_village_head_says_it(typed: str, spoken: str):
    assert normalize(typed) == spoken


def test_a_text_of_emoji_and_signs_only_has_no_words():
    from audio.normalize import has_words

    assert not has_words("🎉🎉 👍") and not has_words("!!! ...") and not has_words("❤️")
    assert has_words("1️⃣") and has_words("Họp 🎉") and has_words("5")
