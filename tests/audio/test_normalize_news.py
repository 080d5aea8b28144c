"""A held-out-style bulletin of a xã (meetings, budgets, health, weather, traffic, addresses,
phone numbers, decrees): each sentence through the normaliser must read exactly as a
Vietnamese announcer reads it, with no digit left."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from audio.normalize import normalize

BULLETIN = [
    ('Sáng 20/11, UBND xã Yên Trường tổ chức hội nghị tổng kết công tác năm 2024.',
     'Sáng ngày hai mươi tháng mười một, ủy ban nhân dân xã Yên Trường tổ chức hội nghị tổng kết công tác năm hai nghìn không trăm hai mươi tư.'),
    ('Tổng thu ngân sách xã đạt 12,5 tỷ đồng, tăng 8,7% so với cùng kỳ.',
     'Tổng thu ngân sách xã đạt mười hai phẩy năm tỷ đồng, tăng tám phẩy bảy phần trăm so với cùng kỳ.'),
    ('Tiêm vắc xin sởi cho trẻ từ 9 tháng đến 5 tuổi trong các ngày 20-25/11 tại Trạm y tế xã.',
     'Tiêm vắc xin sởi cho trẻ từ chín tháng đến năm tuổi trong các ngày hai mươi đến ngày hai mươi lăm tháng mười một tại Trạm y tế xã.'),
    ('Hội nghị bắt đầu lúc 7h30, kết thúc lúc 11h15 cùng ngày.',
     'Hội nghị bắt đầu lúc bảy giờ ba mươi phút, kết thúc lúc mười một giờ mười lăm phút cùng ngày.'),
    ('Mọi thông tin xin liên hệ đồng chí Lan, ĐT: 0912.345.678.',
     'Mọi thông tin xin liên hệ đồng chí Lan, điện thoại: không chín một hai ba bốn năm sáu bảy tám.'),
    ('Hộ ông Nguyễn Văn A, số 12 ngõ 34 đường Lê Lợi, thôn 3, được hỗ trợ 2 tr.đ.',
     'Hộ ông Nguyễn Văn A, số mười hai ngõ ba mươi tư đường Lê Lợi, thôn ba, được hỗ trợ hai triệu đồng.'),
    ('Đoạn QL45 qua địa bàn xã giới hạn tốc độ 50 km/h.',
     'Đoạn quốc lộ bốn mươi lăm qua địa bàn xã giới hạn tốc độ năm mươi ki lô mét trên giờ.'),
    ('Nhiệt độ ngày mai từ 15°C đến 22°C, độ ẩm 85%.',
     'Nhiệt độ ngày mai từ mười lăm độ C đến hai mươi hai độ C, độ ẩm tám mươi lăm phần trăm.'),
    ('Diện tích lúa vụ Đông Xuân đạt 245,6 ha, năng suất ước 62,5 tạ/ha, sản lượng 1.535 tấn.',
     'Diện tích lúa vụ Đông Xuân đạt hai trăm bốn mươi lăm phẩy sáu héc ta, năng suất ước sáu mươi hai phẩy năm tạ một héc ta, sản lượng một nghìn năm trăm ba mươi lăm tấn.'),
    ('Nhà văn hóa thôn rộng 250 m², được xây dựng với kinh phí 1,2 tỷ đồng.',
     'Nhà văn hóa thôn rộng hai trăm năm mươi mét vuông, được xây dựng với kinh phí một phẩy hai tỷ đồng.'),
    ('Hội nghị lần thứ 3 BCH Đảng bộ xã khóa XXV diễn ra vào quý IV năm 2024.',
     'Hội nghị lần thứ ba ban chấp hành Đảng bộ xã khóa hai mươi lăm diễn ra vào quý bốn năm hai nghìn không trăm hai mươi tư.'),
    ('Tỷ lệ người dân tham gia BHYT đạt 93,5%, BHXH tự nguyện đạt 1.250 người.',
     'Tỷ lệ người dân tham gia bảo hiểm y tế đạt chín mươi ba phẩy năm phần trăm, bảo hiểm xã hội tự nguyện đạt một nghìn hai trăm năm mươi người.'),
    ('Trường THCS và THPT Yên Định tổ chức tuyên truyền ATGT cho 1.200 học sinh.',
     'Trường trung học cơ sở và trung học phổ thông Yên Định tổ chức tuyên truyền an toàn giao thông cho một nghìn hai trăm học sinh.'),
    ('CSGT huyện phối hợp với lực lượng PCCC kiểm tra 45 cơ sở kinh doanh.',
     'cảnh sát giao thông huyện phối hợp với lực lượng phòng cháy chữa cháy kiểm tra bốn mươi lăm cơ sở kinh doanh.'),
    ('HTX nông nghiệp Định Hưng có 320 xã viên, doanh thu 3,5 tỷ đồng.',
     'hợp tác xã nông nghiệp Định Hưng có ba trăm hai mươi xã viên, doanh thu ba phẩy năm tỷ đồng.'),
    ('Kế hoạch phát triển KT-XH năm 2025 đặt mục tiêu thu nhập bình quân 65 triệu đồng/người/năm.',
     'Kế hoạch phát triển kinh tế xã hội năm hai nghìn không trăm hai mươi lăm đặt mục tiêu thu nhập bình quân sáu mươi lăm triệu đồng một người một năm.'),
    ('Đoàn công tác của TP. Thanh Hóa làm việc tại xã từ ngày 3-5/12/2024.',
     'Đoàn công tác của thành phố Thanh Hóa làm việc tại xã từ ngày ba đến ngày năm tháng mười hai năm hai nghìn không trăm hai mươi tư.'),
    ('Ông Trần Văn B, trú tại P. Ba Đình, Q. Hoàn Kiếm, TP. Hà Nội.',
     'Ông Trần Văn B, trú tại phường Ba Đình, quận Hoàn Kiếm, thành phố Hà Nội.'),
    ('Tuyến ĐT 516 đang được nâng cấp, dài 12,3 km.',
     'Tuyến đường tỉnh năm trăm mười sáu đang được nâng cấp, dài mười hai phẩy ba ki lô mét.'),
    ('MTTQ xã phát động ủng hộ Quỹ Vì người nghèo, đã tiếp nhận 35.500.000 đồng.',
     'mặt trận tổ quốc xã phát động ủng hộ Quỹ Vì người nghèo, đã tiếp nhận ba mươi lăm triệu năm trăm nghìn đồng.'),
    ('Thời gian nhận hồ sơ từ 8h đến 16h30 các ngày thứ 2 đến thứ 6.',
     'Thời gian nhận hồ sơ từ tám giờ đến mười sáu giờ ba mươi phút các ngày thứ hai đến thứ sáu.'),
    ('Lượng mưa phổ biến 50-100 mm, có nơi trên 150 mm.',
     'Lượng mưa phổ biến năm mươi đến một trăm mi li mét, có nơi trên một trăm năm mươi mi li mét.'),
    ('Xã có 2.345 hộ với 9.876 nhân khẩu, trong đó 4,2% là hộ nghèo.',
     'Xã có hai nghìn ba trăm bốn mươi lăm hộ với chín nghìn tám trăm bảy mươi sáu nhân khẩu, trong đó bốn phẩy hai phần trăm là hộ nghèo.'),
    ('Đại hội Hội Nông dân xã lần thứ XII, nhiệm kỳ 2023-2028.',
     'Đại hội Hội Nông dân xã lần thứ mười hai, nhiệm kỳ hai nghìn không trăm hai mươi ba đến hai nghìn không trăm hai mươi tám.'),
    ('Cuộc họp vào lúc 14:00 ngày 05/01/2025 tại hội trường UBND xã.',
     'Cuộc họp vào lúc mười bốn giờ ngày năm tháng một năm hai nghìn không trăm hai mươi lăm tại hội trường ủy ban nhân dân xã.'),
    ('Giá lúa hiện nay khoảng 7.500 đồng/kg.',
     'Giá lúa hiện nay khoảng bảy nghìn năm trăm đồng một ki lô gam.'),
    ('Đường dây nóng 1900 9095 hoạt động 24/7.',
     'Đường dây nóng một chín không không chín không chín năm hoạt động hai mươi tư trên bảy.'),
    ('Hạn chót nộp hồ sơ là ngày 31/12.',
     'Hạn chót nộp hồ sơ là ngày ba mươi mốt tháng mười hai.'),
    ('Chương trình VOV1 được tiếp phát từ 6h đến 6h30 và từ 17h đến 17h30 hằng ngày.',
     'Chương trình vê ô vê một được tiếp phát từ sáu giờ đến sáu giờ ba mươi phút và từ mười bảy giờ đến mười bảy giờ ba mươi phút hằng ngày.'),
    ('Theo Quyết định số 1234/QĐ-UBND ngày 15/3/2024 của UBND huyện.',
     'Theo Quyết định số một nghìn hai trăm ba mươi tư quyết định ủy ban nhân dân ngày mười lăm tháng ba năm hai nghìn không trăm hai mươi tư của ủy ban nhân dân huyện.'),
    ('Đàn gia cầm của xã có khoảng 45.000 con, tăng 1.500 con.',
     'Đàn gia cầm của xã có khoảng bốn mươi lăm nghìn con, tăng một nghìn năm trăm con.'),
    ('Từ ngày 1/7/2024, mức lương cơ sở tăng lên 2.340.000 đồng/tháng.',
     'Từ ngày một tháng bảy năm hai nghìn không trăm hai mươi tư, mức lương cơ sở tăng lên hai triệu ba trăm bốn mươi nghìn đồng một tháng.'),
    ('Có 3/5 thôn đạt chuẩn NTM kiểu mẫu.',
     'Có ba trên năm thôn đạt chuẩn nông thôn mới kiểu mẫu.'),
    ('Cây số 15 trên QL1A, gió mạnh cấp 6, giật cấp 8.',
     'Cây số mười lăm trên quốc lộ một A, gió mạnh cấp sáu, giật cấp tám.'),
    ('Người dân cần mang theo CCCD, sổ hộ khẩu và 2 ảnh 3x4.',
     'Người dân cần mang theo căn cước công dân, sổ hộ khẩu và hai ảnh ba nhân bốn.'),
    ('Kinh phí hỗ trợ là 500 nghìn đồng một hộ, tổng 1,5 tr.đ mỗi thôn.',
     'Kinh phí hỗ trợ là năm trăm nghìn đồng một hộ, tổng một phẩy năm triệu đồng mỗi thôn.'),
    ('Nhiệt độ thấp nhất -2°C ở vùng núi cao.',
     'Nhiệt độ thấp nhất âm hai độ C ở vùng núi cao.'),
    ('Thôn 5 hoàn thành 100% chỉ tiêu, thôn 7 đạt 98,25%.',
     'Thôn năm hoàn thành một trăm phần trăm chỉ tiêu, thôn bảy đạt chín mươi tám phẩy hai mươi lăm phần trăm.'),
    ('Đồng chí Phó Chủ tịch UBND xã, SĐT 0987 654 321, trực ban 24 giờ.',
     'Đồng chí Phó Chủ tịch ủy ban nhân dân xã, số điện thoại không chín tám bảy sáu năm bốn ba hai một, trực ban hai mươi tư giờ.'),
    ('Sản lượng điện tiêu thụ 1.234,5 kWh.',
     'Sản lượng điện tiêu thụ một nghìn hai trăm ba mươi tư phẩy năm ki lô oát giờ.'),
    ('Thế kỷ XXI, quý I, quý II, khóa XV, lần thứ IV.',
     'Thế kỷ hai mươi mốt, quý một, quý hai, khóa mười lăm, lần thứ tư.'),
    ('Diện tích rừng 1.020 ha, trong đó rừng phòng hộ 320,5 ha.',
     'Diện tích rừng một nghìn không trăm hai mươi héc ta, trong đó rừng phòng hộ ba trăm hai mươi phẩy năm héc ta.'),
    ('Năm 2023 có 15 cặp kết hôn, 102 trẻ sinh ra.',
     'Năm hai nghìn không trăm hai mươi ba có mười lăm cặp kết hôn, một trăm linh hai trẻ sinh ra.'),
    ('Từ 01/12 đến 15/12, thôn tổ chức dọn vệ sinh.',
     'Từ ngày một tháng mười hai đến ngày mười lăm tháng mười hai, thôn tổ chức dọn vệ sinh.'),
    ('Trong tháng 10/2024, xã đã cấp 150 CCCD gắn chip.',
     'Trong tháng mười năm hai nghìn không trăm hai mươi tư, xã đã cấp một trăm năm mươi căn cước công dân gắn chip.'),
    ('Đường dài 3.000m, rộng 5,5m, cách trung tâm 5km.',
     'Đường dài ba nghìn mét, rộng năm phẩy năm mét, cách trung tâm năm ki lô mét.'),
    ('Tỷ lệ đạt 50-60%, diện tích 0,5 ha.',
     'Tỷ lệ đạt năm mươi đến sáu mươi phần trăm, diện tích không phẩy năm héc ta.'),
    ('Lúc 10h sáng mai, 2/3 số hộ đã nộp.',
     'Lúc mười giờ sáng mai, hai trên ba số hộ đã nộp.'),
    ('Tổng kinh phí 1.250.000.000 đồng.',
     'Tổng kinh phí một tỷ hai trăm năm mươi triệu đồng.'),
    ('Quyết định 15/2024/QĐ-UBND có hiệu lực.',
     'Quyết định mười lăm năm hai nghìn không trăm hai mươi tư quyết định ủy ban nhân dân có hiệu lực.'),
    ('Hội LHPN xã trao 20 suất quà, mỗi suất 500.000đ.',
     'Hội liên hiệp phụ nữ xã trao hai mươi suất quà, mỗi suất năm trăm nghìn đồng.'),
    ('Mưa lớn 200mm/24h ở huyện Như Xuân.',
     'Mưa lớn hai trăm mi li mét trên hai mươi tư giờ ở huyện Như Xuân.'),
    ('Gió cấp 7, giật cấp 9, sóng biển cao 2-3m.',
     'Gió cấp bảy, giật cấp chín, sóng biển cao hai đến ba mét.'),
    ('Hiện có 4/4 thôn hoàn thành.',
     'Hiện có bốn trên bốn thôn hoàn thành.'),
]


@pytest.mark.parametrize("typed,spoken", BULLETIN)
def test_commune_bulletin_reads_as_an_announcer_reads_it(typed: str, spoken: str):
    assert normalize(typed) == spoken
    assert not re.search(r"\d", spoken)


def test_the_whole_bulletin_through_langso_tts_normalize():
    text = " ".join(typed for typed, _ in BULLETIN)
    out = subprocess.run([sys.executable, "-m", "controller", "tts", "normalize", text],
                         capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    assert out == " ".join(spoken for _, spoken in BULLETIN)
    assert not re.search(r"\d", out)
