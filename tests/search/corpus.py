"""A deterministic generator of realistic Vietnamese administrative records.

Used by the search benchmark and by tests: agency names, places, people, document numbers and
the stock phrases of Vietnamese administrative writing ("Căn cứ ...", "về việc", "phê duyệt").
The same seed always gives the same corpus. About 5 % of the documents use the old tone
placement (hoà, Uỷ, thuỷ) and about 3 % are in NFD, as text extracted from older software is.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from repo_server.search.backend import IndexRecord

FONDS = [
    ("000.00.12.H57", "Ủy ban nhân dân tỉnh Thừa Thiên Huế", "UBND"),
    ("000.00.23.H57", "Sở Nội vụ tỉnh Thừa Thiên Huế", "SNV"),
    ("000.00.24.H57", "Sở Tài chính tỉnh Thừa Thiên Huế", "STC"),
    ("000.00.25.H57", "Sở Kế hoạch và Đầu tư tỉnh Thừa Thiên Huế", "SKHĐT"),
    ("000.00.26.H57", "Sở Tài nguyên và Môi trường tỉnh Thừa Thiên Huế", "STNMT"),
    ("000.00.31.H57", "Ủy ban nhân dân thành phố Huế", "UBND"),
    ("000.00.40.H57", "Ủy ban nhân dân phường An Cựu", "UBND"),
    ("000.00.41.H57", "Ủy ban nhân dân huyện Phú Vang", "UBND"),
]

# (type_code, name, abbreviation, weight)
TYPES = [
    ("01", "Nghị quyết", "NQ", 2),
    ("02", "Quyết định", "QĐ", 20),
    ("03", "Chỉ thị", "CT", 1),
    ("05", "Quy định", "QyĐ", 1),
    ("07", "Thông báo", "TB", 8),
    ("08", "Hướng dẫn", "HD", 3),
    ("10", "Kế hoạch", "KH", 8),
    ("11", "Phương án", "PA", 2),
    ("14", "Báo cáo", "BC", 10),
    ("15", "Tờ trình", "TTr", 8),
    ("20", "Biên bản", "BB", 3),
    ("21", "Hợp đồng", "HĐ", 2),
    ("22", "Công văn", "", 22),
    ("26", "Giấy mời", "GM", 6),
    ("27", "Giấy giới thiệu", "GGT", 1),
]

PROVINCES = """Hà Nội|Hải Phòng|Đà Nẵng|Thành phố Hồ Chí Minh|Cần Thơ|Thừa Thiên Huế|Quảng Trị|
Quảng Bình|Hà Tĩnh|Nghệ An|Thanh Hóa|Ninh Bình|Nam Định|Thái Bình|Hưng Yên|Hải Dương|Bắc Ninh|
Bắc Giang|Lạng Sơn|Cao Bằng|Hà Giang|Tuyên Quang|Lào Cai|Yên Bái|Phú Thọ|Vĩnh Phúc|Thái Nguyên|
Bắc Kạn|Điện Biên|Lai Châu|Sơn La|Hòa Bình|Quảng Ninh|Hà Nam|Quảng Nam|Quảng Ngãi|Bình Định|
Phú Yên|Khánh Hòa|Ninh Thuận|Bình Thuận|Kon Tum|Gia Lai|Đắk Lắk|Đắk Nông|Lâm Đồng|Bình Phước|
Tây Ninh|Bình Dương|Đồng Nai|Bà Rịa - Vũng Tàu|Long An|Tiền Giang|Bến Tre|Trà Vinh|Vĩnh Long|
Đồng Tháp|An Giang|Kiên Giang|Hậu Giang|Sóc Trăng|Bạc Liêu|Cà Mau"""
PROVINCES = [p.strip() for p in PROVINCES.replace("\n", "").split("|")]

DISTRICTS = """Phú Vang|Phú Lộc|Hương Thủy|Hương Trà|Quảng Điền|Phong Điền|A Lưới|Nam Đông|
Thuận An|Phú Xuân|Vĩnh Linh|Gio Linh|Triệu Phong|Hải Lăng|Cam Lộ|Đakrông|Hướng Hóa|Lệ Thủy|
Quảng Ninh|Bố Trạch|Minh Hóa|Tuyên Hóa|Kỳ Anh|Cẩm Xuyên|Thạch Hà|Can Lộc|Nghi Xuân|Đức Thọ|
Hương Sơn|Hương Khê|Vũ Quang|Diễn Châu|Quỳnh Lưu|Yên Thành|Đô Lương|Thanh Chương|Nam Đàn|
Hưng Nguyên|Nghi Lộc|Tĩnh Gia|Quảng Xương|Hoằng Hóa|Hậu Lộc|Nga Sơn|Thọ Xuân|Triệu Sơn|
Điện Bàn|Duy Xuyên|Thăng Bình|Núi Thành|Tam Kỳ|Hội An|Đại Lộc|Quế Sơn|Tiên Phước|Bắc Trà My"""
DISTRICTS = [d.strip() for d in DISTRICTS.replace("\n", "").split("|")]

WARDS = """An Cựu|An Đông|An Tây|Phú Hội|Phú Nhuận|Vĩnh Ninh|Phước Vĩnh|Trường An|Xuân Phú|
Vỹ Dạ|Thủy Xuân|Thủy Biều|Kim Long|Hương Long|Thuận Hòa|Thuận Lộc|Đông Ba|Tây Lộc|Hương Sơ|
Phú Bình|Phú Hậu|Phú Hiệp|Phú Cát|Thuận Thành|Phường Đúc|Thủy Vân|Thủy Dương|Thủy Phương|
Hương Vinh|Hương An|Hương Hồ|Quảng Thành|Quảng Thọ|Phú Mậu|Phú Thượng|Phú Dương|Vinh Thanh|
Vinh Xuân|Vinh Hưng|Lộc Bổn|Lộc Sơn|Lộc Điền|Lộc Trì|Lăng Cô|Chân Mây|Khuổi Nạn|Nậm Khắt|
Ỷ La|Ỳ Tý|Ẳng Cang|Ẵng Nưa|Ẫm Hiêu|Ộc Khê|Ụ Bồng|Ừng Lý|Ửng Vân|Ữu Lương"""
WARDS = [w.strip() for w in WARDS.replace("\n", "").split("|")]

SURNAMES = (
    "Nguyễn Nguyễn Nguyễn Trần Trần Lê Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô "
    "Dương Lý Tôn Thái Châu Lương Đoàn Trương Mai Cao Đinh Lâm Hà Ưng Âu Ông Ứng"
).split()
MIDDLES = (
    "Văn Văn Thị Thị Hữu Đức Minh Thanh Quang Ngọc Xuân Thu Kim Công Đình Quốc Thế Bảo".split()
)
GIVEN = (
    "An Bình Cường Dũng Hùng Lan Mai Phượng Quỳnh Thủy Hòa Khoa Tuấn Hưng Hương Hạnh Nga Nhung "
    "Oanh Phúc Quý Sơn Tâm Thảo Trang Uyên Vinh Yến Ánh Ân Ẩn Ấn Ơn Ước Ưng Ý Ỷ Đạt Điệp Giang "
    "Hải Hiếu Hoa Khánh Kiên Lộc Long Luân Lực Mạnh Nam Nghĩa Ngân Nhân Ninh Phong Quân Sáng "
    "Thắng Thịnh Thông Tiến Toàn Trí Trung Tú Tùng Việt Vượng Xuân Yên Ổn Ửng Ẳm Ẵng Ẫn Ậu Ọc Ủn"
).split()
POSITIONS = [
    "Chủ tịch",
    "Phó Chủ tịch",
    "Giám đốc",
    "Phó Giám đốc",
    "Chánh Văn phòng",
    "Trưởng phòng",
    "Phó Trưởng phòng",
    "Bí thư",
    "Chuyên viên",
]

DEPARTMENTS = [
    "Sở Nội vụ",
    "Sở Tài chính",
    "Sở Kế hoạch và Đầu tư",
    "Sở Tài nguyên và Môi trường",
    "Sở Xây dựng",
    "Sở Giao thông vận tải",
    "Sở Giáo dục và Đào tạo",
    "Sở Y tế",
    "Sở Lao động - Thương binh và Xã hội",
    "Sở Văn hóa và Thể thao",
    "Sở Du lịch",
    "Sở Nông nghiệp và Phát triển nông thôn",
    "Sở Công Thương",
    "Sở Tư pháp",
    "Sở Thông tin và Truyền thông",
    "Sở Khoa học và Công nghệ",
    "Thanh tra tỉnh",
    "Công an tỉnh",
    "Bộ Chỉ huy Quân sự tỉnh",
    "Kho bạc Nhà nước tỉnh",
    "Cục Thuế tỉnh",
    "Văn phòng Ủy ban nhân dân tỉnh",
    "Ban Quản lý dự án đầu tư xây dựng",
    "Trung tâm Phục vụ hành chính công",
    "Tỉnh ủy",
    "Hội đồng nhân dân tỉnh",
]

TOPICS = [
    "xây dựng nông thôn mới",
    "cải cách hành chính",
    "chuyển đổi số",
    "ứng dụng công nghệ thông tin trong hoạt động của cơ quan nhà nước",
    "phòng, chống dịch bệnh",
    "giải phóng mặt bằng",
    "bồi thường, hỗ trợ và tái định cư",
    "quy hoạch sử dụng đất",
    "cấp giấy chứng nhận quyền sử dụng đất",
    "đầu tư công trung hạn",
    "thu, chi ngân sách nhà nước",
    "bảo đảm trật tự an toàn giao thông",
    "phòng cháy, chữa cháy và cứu nạn, cứu hộ",
    "bảo vệ môi trường",
    "hỗ trợ hộ nghèo, hộ cận nghèo",
    "công tác thủy lợi và phòng, chống thiên tai",
    "hòa giải ở cơ sở",
    "công tác văn thư, lưu trữ",
    "tuyển dụng công chức, viên chức",
    "thi đua, khen thưởng",
    "phổ biến, giáo dục pháp luật",
    "quản lý trật tự xây dựng đô thị",
    "chỉnh trang đô thị và phát triển hạ tầng",
    "sắp xếp đơn vị hành chính cấp xã",
    "tinh giản biên chế",
    "kiểm tra, giám sát việc thực hiện nhiệm vụ",
    "tiếp công dân và giải quyết khiếu nại, tố cáo",
    "phòng, chống tham nhũng, lãng phí",
    "an sinh xã hội",
    "bảo hiểm xã hội, bảo hiểm y tế",
    "giáo dục mầm non và phổ thông",
    "phát triển du lịch",
    "bảo tồn di tích Cố đô Huế",
    "quản lý, sử dụng tài sản công",
    "thực hành tiết kiệm, chống lãng phí",
    "khắc phục hậu quả bão, lũ",
    "tiêm chủng mở rộng",
    "chương trình mục tiêu quốc gia giảm nghèo bền vững",
    "đào tạo, bồi dưỡng cán bộ, công chức",
    "kiện toàn tổ chức bộ máy",
    "thẩm định giá đất cụ thể",
    "khuyến nông, khuyến ngư",
    "an toàn vệ sinh thực phẩm",
    "quốc phòng, an ninh",
    "dân tộc, tôn giáo",
    "kinh tế tập thể, hợp tác xã",
    "chợ truyền thống và thương mại",
    "đăng ký kinh doanh",
    "cấp phép xây dựng",
    "nước sạch nông thôn",
]

ACTIONS = [
    "phê duyệt",
    "ban hành",
    "triển khai thực hiện",
    "tăng cường",
    "điều chỉnh",
    "bổ sung",
    "kiện toàn",
    "thành lập",
    "giao chỉ tiêu",
    "tổ chức",
    "hướng dẫn thực hiện",
    "báo cáo kết quả",
    "đề nghị thẩm định",
    "góp ý dự thảo",
    "công bố",
    "phân bổ kinh phí",
    "chấn chỉnh",
    "đôn đốc",
]

OBJECTS = [
    "kế hoạch",
    "đề án",
    "dự án",
    "phương án",
    "quy chế",
    "danh mục",
    "dự toán",
    "chương trình",
    "báo cáo",
    "hồ sơ",
    "quyết toán",
    "chỉ tiêu",
    "danh sách",
    "tiêu chí",
]

LAWS = [
    "Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015",
    "Luật sửa đổi, bổ sung một số điều của Luật Tổ chức Chính phủ và Luật Tổ chức chính "
    "quyền địa phương ngày 22 tháng 11 năm 2019",
    "Luật Ngân sách nhà nước ngày 25 tháng 6 năm 2015",
    "Luật Đầu tư công ngày 13 tháng 6 năm 2019",
    "Luật Đất đai ngày 29 tháng 11 năm 2013",
    "Luật Lưu trữ ngày 21 tháng 6 năm 2024",
    "Luật Cán bộ, công chức ngày 13 tháng 11 năm 2008",
    "Luật Xây dựng ngày 18 tháng 6 năm 2014",
    "Luật Bảo vệ môi trường ngày 17 tháng 11 năm 2020",
    "Luật Thi đua, khen thưởng ngày 15 tháng 6 năm 2022",
]

DECREES = [
    "30/2020/NĐ-CP ngày 05 tháng 3 năm 2020 của Chính phủ về công tác văn thư",
    "113/2025/NĐ-CP ngày 03 tháng 6 năm 2025 của Chính phủ quy định chi tiết một số điều "
    "của Luật Lưu trữ",
    "138/2020/NĐ-CP ngày 27 tháng 11 năm 2020 của Chính phủ quy định về tuyển dụng, sử dụng "
    "và quản lý công chức",
    "43/2014/NĐ-CP ngày 15 tháng 5 năm 2014 của Chính phủ quy định chi tiết thi hành một số "
    "điều của Luật Đất đai",
    "163/2016/NĐ-CP ngày 21 tháng 12 năm 2016 của Chính phủ quy định chi tiết thi hành một "
    "số điều của Luật Ngân sách nhà nước",
    "40/2020/NĐ-CP ngày 06 tháng 4 năm 2020 của Chính phủ quy định chi tiết thi hành một số "
    "điều của Luật Đầu tư công",
    "123/2024/NĐ-CP ngày 04 tháng 10 năm 2024 của Chính phủ quy định về xử phạt vi phạm "
    "hành chính trong lĩnh vực đất đai",
    "61/2018/NĐ-CP ngày 23 tháng 4 năm 2018 của Chính phủ về thực hiện cơ chế một cửa, một "
    "cửa liên thông trong giải quyết thủ tục hành chính",
]

CIRCULARS = [
    "05/2025/TT-BNV ngày 14 tháng 5 năm 2025 của Bộ Nội vụ",
    "10/2022/TT-BNV ngày 19 tháng 12 năm 2022 của Bộ Nội vụ quy định thời hạn bảo quản tài liệu",
    "01/2011/TT-BNV ngày 19 tháng 01 năm 2011 của Bộ Nội vụ",
    "342/2016/TT-BTC ngày 30 tháng 12 năm 2016 của Bộ Tài chính",
]

FILLER = [
    "Các cơ quan, đơn vị, địa phương chủ động phối hợp chặt chẽ trong quá trình tổ chức thực "
    "hiện, bảo đảm đúng tiến độ, chất lượng và hiệu quả",
    "Trong quá trình triển khai, nếu có khó khăn, vướng mắc, đề nghị các đơn vị kịp thời phản "
    "ánh về {dept} để tổng hợp, báo cáo Ủy ban nhân dân tỉnh xem xét, giải quyết",
    "Kinh phí thực hiện được bố trí từ nguồn ngân sách nhà nước theo phân cấp hiện hành và các "
    "nguồn vốn hợp pháp khác",
    "Giao {dept} chủ trì, phối hợp với các sở, ban, ngành liên quan và Ủy ban nhân dân các "
    "huyện, thị xã, thành phố hướng dẫn, kiểm tra, đôn đốc việc thực hiện",
    "Tổng hợp kết quả thực hiện, báo cáo Ủy ban nhân dân tỉnh trước ngày {day} tháng {month} "
    "năm {year}",
    "Năm {year}, toàn tỉnh đã hoàn thành {pct} phần trăm kế hoạch đề ra, trong đó có {n} xã "
    "đạt chuẩn nông thôn mới",
    "Tổ chức hội nghị sơ kết, đánh giá kết quả thực hiện và đề ra nhiệm vụ, giải pháp trọng "
    "tâm trong thời gian tới",
    "Đẩy mạnh công tác tuyên truyền, nâng cao nhận thức của cán bộ, công chức, viên chức và "
    "Nhân dân về {topic}",
    "Tiếp tục rà soát, đơn giản hóa thủ tục hành chính, nâng cao chỉ số hài lòng của người "
    "dân, doanh nghiệp đối với sự phục vụ của cơ quan hành chính nhà nước",
    "Ủy ban nhân dân {place_kind} {ward} báo cáo tình hình thực hiện {topic} trên địa bàn",
    "Thời gian: {hour} giờ 00, ngày {day} tháng {month} năm {year}. Địa điểm: Hội trường {dept}",
    "Thành phần mời: đại diện lãnh đạo {dept}, Ủy ban nhân dân huyện {district} và các đơn "
    "vị có liên quan",
    "Ông {person}, {position} {dept}, chịu trách nhiệm chỉ đạo, điều hành chung",
    "Bà {person}, chuyên viên {dept}, được giao theo dõi, tổng hợp và tham mưu",
    "Diện tích thu hồi {n} mét vuông đất nông nghiệp tại thôn {ward}, xã {ward2}, huyện "
    "{district}, tỉnh {province}",
    "Số tiền bồi thường, hỗ trợ là {n} triệu đồng, được chi trả trực tiếp cho các hộ gia đình, "
    "cá nhân bị ảnh hưởng",
    "Đồng ý chủ trương cho phép {dept} được sử dụng kinh phí tiết kiệm chi thường xuyên để "
    "thực hiện nhiệm vụ",
    "Công tác quản lý nhà nước về {topic} có nhiều chuyển biến tích cực, tuy nhiên vẫn còn "
    "một số tồn tại, hạn chế cần khắc phục",
    "Nguyên nhân chủ yếu là do nguồn lực còn hạn chế, sự phối hợp giữa các cấp, các ngành có "
    "lúc chưa chặt chẽ",
    "Đề nghị Ủy ban nhân dân tỉnh xem xét, quyết định",
    "Căn cứ tình hình thực tế, Ủy ban nhân dân tỉnh yêu cầu các cơ quan, đơn vị nghiêm túc "
    "triển khai thực hiện các nội dung sau đây",
    "Tăng cường ứng dụng công nghệ thông tin, số hóa hồ sơ, tài liệu và sử dụng chữ ký số "
    "trong xử lý văn bản điện tử",
    "Thủ trưởng các cơ quan, đơn vị chịu trách nhiệm trước Chủ tịch Ủy ban nhân dân tỉnh về "
    "kết quả thực hiện",
    "Khẩn trương hoàn thiện hồ sơ, thủ tục đầu tư theo quy định, trình cấp có thẩm quyền phê "
    "duyệt trong quý {quarter} năm {year}",
    "Hộ ông {person} ở thôn {ward} đề nghị được xem xét hỗ trợ tái định cư",
    "Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh và các tổ chức chính trị - xã hội phối hợp giám sát "
    "việc thực hiện",
    "Lũy kế đến nay đã giải ngân {pct} phần trăm kế hoạch vốn được giao",
    "Khoẻ mạnh, thuỷ lợi, hoà bình, quý khách, khuỷu tay, nguệch ngoạc, quýt, khuya khoắt là "
    "những từ hiếm gặp trong văn bản hành chính",
    "Chấp thuận chủ trương đầu tư dự án {tail} của Công ty cổ phần {tail2}",
    "Hộ gia đình ông {person} tại thôn {tail} có đơn đề nghị cấp giấy chứng nhận",
    "Công ty TNHH {tail} đã hoàn thành thủ tục đăng ký kinh doanh",
    "Trường Tiểu học {tail} được công nhận đạt chuẩn quốc gia",
]

RARE_WORDS = (
    "khuỷu nguệch ngoạc khuếch trương quỹ đạo thuở xưa huơ khuơ ngoằn ngoèo loằng ngoằng "
    "khoắng hoẵng quặp khoèo ngoẹo xoẹt uỵch huỵch phỗng ngỡ ngàng ẩm ướt ưỡn ngực ỡm ờ ỉu "
    "xìu ọp ẹp ụp xuống ủn ỉn ữ ừ ấm ức ẩn náu ỷ lại ẵm bồng ẳng ẳng ặc ặc ậm ừ ễnh ương "
    "ếch nhái ềnh oàng ểnh ệ vệ ỗ ốc ồn ào ổi ỡ òe khoèn quằn quại thuở ban đầu"
).split()


# The long tail: pseudo-syllables built from Vietnamese onsets, rhymes and tones, used for
# the names of people, companies, projects and hamlets, so the corpus has rare words as well.
ONSETS = "b c ch d đ g gi h k kh l m n ng nh p ph qu r s t th tr v x".split() + [""]
RHYMES = (
    "a ai am an ang anh ao au ay ăm ăn ăng âm ân âng âu ây e em en eng eo ê êm ên ênh êu i ia "
    "im in inh iu iêm iên iêng iêu o oa oai oan oang oanh oe oi om on ong ô ôi ôm ôn ông ơ ơi ơm "
    "ơn u ua uân uê ui um un ung uôi uôn uông uy uyên ư ưa ưng ươi ươn ương ưu"
).split()
TONE_MARKS = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]


def _pseudo_syllable(rng: random.Random) -> str:
    rhyme = rng.choice(RHYMES)
    vowels = [i for i, c in enumerate(rhyme) if c in "aăâeêioôơuưy"]
    marked = [i for i in vowels if rhyme[i] in "ăâêôơư"]
    if marked:
        at = marked[-1]
    elif vowels[-1] < len(rhyme) - 1 or len(vowels) == 1:
        at = vowels[-1]
    else:
        at = vowels[-2]
    tone = rng.choice(TONE_MARKS)
    onset = rng.choice(ONSETS)
    if onset == "qu" and rhyme[0] in "uư":
        onset = "kh"
    syllable = onset + rhyme[: at + 1] + tone + rhyme[at + 1 :]
    return unicodedata.normalize("NFC", syllable)


def _name_pool(size: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{_pseudo_syllable(rng).capitalize()} {_pseudo_syllable(rng).capitalize()}"
        for _ in range(size)
    ]


NAME_POOL = _name_pool(30_000, 1)
GIVEN_POOL = GIVEN + [n.split()[1] for n in NAME_POOL[:3000]]


def _tail(rng: random.Random) -> str:
    """A name from the long tail: a few are common, most are rare."""
    return NAME_POOL[int(len(NAME_POOL) * rng.random() ** 2.5)]


def _person(rng: random.Random) -> str:
    given = GIVEN_POOL[int(len(GIVEN_POOL) * rng.random() ** 3)]
    return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLES)} {given}"


def _old_style(text: str) -> str:
    """Rewrite the common syllables in the old tone placement (hoà, Uỷ, thuỷ, khoẻ)."""
    for new, old in (
        ("Ủy", "Uỷ"),
        ("ủy", "uỷ"),
        ("thủy", "thuỷ"),
        ("Thủy", "Thuỷ"),
        ("hòa", "hoà"),
        ("Hòa", "Hoà"),
        ("thỏa", "thoả"),
        ("khỏe", "khoẻ"),
        ("lũy", "luỹ"),
        ("Lũy", "Luỹ"),
        ("tùy", "tuỳ"),
        ("hủy", "huỷ"),
    ):
        text = text.replace(new, old)
    return text


class CorpusGenerator:
    """Generates dossiers and their documents; the same seed gives the same records."""

    def __init__(self, seed: int = 42, docs_per_dossier: int = 25):
        self.seed = seed
        self.docs_per_dossier = docs_per_dossier

    def records(self, n_docs: int) -> Iterator[IndexRecord]:
        """Yield about n_docs/docs_per_dossier dossiers, each followed by its documents."""
        rng = random.Random(self.seed)
        type_weights = [t[3] for t in TYPES]
        made = 0
        serial = 0
        while made < n_docs:
            fonds_code, fonds_name, organ_abbr = rng.choice(FONDS)
            year = rng.randint(2012, 2025)
            serial += 1
            topic = rng.choice(TOPICS)
            dossier_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            start = date(year, 1, 1) + timedelta(days=rng.randint(0, 300))
            state = rng.choices(["open", "closed", "archived"], [2, 5, 3])[0]
            access = rng.choices(["01", "02", "03"], [7, 2, 1])[0]
            file_code = (
                f"{fonds_code}.{year}.{serial % 100:02d}.{rng.choice(['TH', 'NV', 'TC', 'KH'])}"
            )
            maker = _person(rng)
            dossier_title = (
                f"Hồ sơ về việc {rng.choice(ACTIONS)} {rng.choice(OBJECTS)} {topic} năm {year}"
            )
            yield IndexRecord(
                id=dossier_id,
                kind="dossier",
                dossier_id=dossier_id,
                fonds_code=fonds_code,
                state=state,
                access_mode=access,
                type_code=None,
                direction=None,
                date=start,
                title=dossier_title,
                number=file_code,
                fields_text=f"{fonds_name} {maker} {topic} {file_code}",
                body="",
                updated=datetime(year, 12, 31, tzinfo=UTC),
            )
            count = min(n_docs - made, max(1, int(rng.gauss(self.docs_per_dossier, 6))))
            for _ in range(count):
                yield self._document(
                    rng,
                    dossier_id,
                    fonds_code,
                    fonds_name,
                    organ_abbr,
                    year,
                    start,
                    state,
                    access,
                    topic,
                    type_weights,
                )
            made += count

    def _document(
        self,
        rng,
        dossier_id,
        fonds_code,
        fonds_name,
        organ_abbr,
        year,
        start,
        state,
        access,
        dossier_topic,
        type_weights,
    ) -> IndexRecord:
        type_code, type_name, type_abbr, _ = rng.choices(TYPES, type_weights)[0]
        issued = start + timedelta(days=rng.randint(0, 360))
        direction = rng.choices(["outgoing", "incoming", "internal"], [5, 4, 1])[0]
        num = rng.randint(1, 2500)
        if direction == "incoming":
            organ_name = rng.choice(DEPARTMENTS)
            dept_abbr = rng.choice(["SNV", "STC", "SXD", "SYT", "VP", "TTr", "STP"])
        else:
            organ_name = fonds_name
            dept_abbr = rng.choice(["VP", "NC", "KT", "TH", "VX", "ĐT"])
        if type_abbr:
            if rng.random() < 0.08:
                number = f"{num:02d}/{issued.year}/{type_abbr}-{organ_abbr}"
            else:
                number = f"{num:02d}/{type_abbr}-{organ_abbr}"
        else:
            number = f"{num:02d}/{organ_abbr}-{dept_abbr}"
        topic = dossier_topic if rng.random() < 0.6 else rng.choice(TOPICS)
        subject = f"{rng.choice(ACTIONS)} {rng.choice(OBJECTS)} {topic}"
        if rng.random() < 0.5:
            subject += f" năm {issued.year}"
        if rng.random() < 0.3:
            subject += f" trên địa bàn {rng.choice(['phường', 'xã', 'huyện'])} {rng.choice(WARDS + DISTRICTS)}"
        subject = "Về việc " + subject
        signer = _person(rng)
        position = rng.choice(POSITIONS)
        keywords = ", ".join(rng.sample(TOPICS, 2))
        body = self._body(
            rng, type_name, number, issued, fonds_name, subject, signer, position, topic
        )
        if rng.random() < 0.05:
            body = _old_style(body)
            subject = _old_style(subject)
        if rng.random() < 0.03:
            body = unicodedata.normalize("NFD", body)
        return IndexRecord(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            kind="document",
            dossier_id=dossier_id,
            fonds_code=fonds_code,
            state=state,
            access_mode=access if rng.random() < 0.9 else rng.choice(["01", "02", "03"]),
            type_code=type_code,
            direction=direction,
            date=issued,
            title=subject,
            number=number,
            fields_text=f"{organ_name} {position} {signer} {keywords}",
            body=body,
            updated=datetime(issued.year, issued.month, issued.day, 8, tzinfo=UTC),
        )

    def _fill(self, rng: random.Random, template: str, topic: str) -> str:
        return template.format(
            dept=rng.choice(DEPARTMENTS),
            day=rng.randint(1, 28),
            month=rng.randint(1, 12),
            year=rng.randint(2012, 2025),
            pct=rng.randint(40, 100),
            n=rng.randint(2, 900),
            topic=topic if rng.random() < 0.7 else rng.choice(TOPICS),
            place_kind=rng.choice(["phường", "xã", "thị trấn"]),
            ward=rng.choice(WARDS),
            ward2=rng.choice(WARDS),
            district=rng.choice(DISTRICTS),
            province=rng.choice(PROVINCES),
            hour=rng.randint(7, 16),
            person=_person(rng),
            position=rng.choice(POSITIONS),
            quarter=rng.choice(["I", "II", "III", "IV"]),
            tail=_tail(rng),
            tail2=_tail(rng),
        )

    def _body(
        self, rng, type_name, number, issued, fonds_name, subject, signer, position, topic
    ) -> str:
        head = (
            f"{fonds_name.upper()} CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM Độc lập - Tự do - Hạnh "
            f"phúc Số: {number} {rng.choice(DISTRICTS)}, ngày {issued.day:02d} tháng "
            f"{issued.month:02d} năm {issued.year} {type_name.upper()} {subject}. "
        )
        parts = [head]
        if rng.random() < 0.6:
            parts.append(f"Căn cứ {rng.choice(LAWS)}; ")
            parts.append(f"Căn cứ Nghị định số {rng.choice(DECREES)}; ")
            if rng.random() < 0.5:
                parts.append(f"Căn cứ Thông tư số {rng.choice(CIRCULARS)}; ")
            parts.append(
                f"Theo đề nghị của {rng.choice(['Giám đốc', 'Thủ trưởng'])} "
                f"{rng.choice(DEPARTMENTS)} tại Tờ trình số {rng.randint(1, 900)}/TTr-"
                f"{rng.choice(['SNV', 'STC', 'SKHĐT', 'SXD'])} ngày {rng.randint(1, 28)} tháng "
                f"{rng.randint(1, 12)} năm {issued.year}. "
            )
        words = sum(len(p.split()) for p in parts)
        target = int(rng.gauss(300, 40))
        article = 1
        while words < target - 30:
            if rng.random() < 0.25:
                s = f"Điều {article}. {rng.choice(ACTIONS).capitalize()} {rng.choice(OBJECTS)} {topic}. "
                article += 1
            elif rng.random() < 0.04:
                s = " ".join(rng.sample(RARE_WORDS, 3)) + ". "
            elif rng.random() < 0.12:
                s = self._fill(rng, rng.choice(FILLER[-4:]), topic) + ". "
            else:
                s = self._fill(rng, rng.choice(FILLER), topic) + ". "
            parts.append(s)
            words += len(s.split())
        parts.append(
            f"Nơi nhận: Như Điều {article}; {rng.choice(DEPARTMENTS)}; Lưu: VT, "
            f"{rng.choice(['NC', 'TH', 'KT'])}. {position.upper()} {signer}"
        )
        return "".join(parts)


def generate(n_docs: int, seed: int = 42) -> Iterator[IndexRecord]:
    """Records for n_docs documents plus their dossiers (about one per 25 documents)."""
    return CorpusGenerator(seed).records(n_docs)
