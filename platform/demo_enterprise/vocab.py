"""Word lists the simulation draws from: names, departments, companies, products.

Every Chinese string here must encode in GBK, because some of them reach the finance exports.
"""

# (deptCode, deptName, deptNameZh); D01 is special: its staff are the sales reps in ERP and CRM.
DEPARTMENTS: tuple[tuple[str, str, str], ...] = (
    ("D01", "Sales", "销售部"),
    ("D02", "Marketing", "市场部"),
    ("D03", "Finance", "财务部"),
    ("D04", "Human Resources", "人力资源部"),
    ("D05", "Engineering", "研发部"),
    ("D06", "Operations", "运营部"),
    ("D07", "Customer Service", "客户服务部"),
    ("D08", "Procurement", "采购部"),
    ("D09", "Logistics", "物流部"),
    ("D10", "Legal", "法务部"),
    ("D11", "IT", "信息技术部"),
    ("D12", "Quality Assurance", "质量部"),
)

# Monthly salary bands in CNY by department; departments not listed use the default band.
SALARY_BANDS: dict[str, tuple[int, int]] = {
    "D01": (8_000, 30_000),
    "D05": (15_000, 60_000),
    "D10": (12_000, 45_000),
    "D11": (12_000, 45_000),
}
DEFAULT_SALARY_BAND = (6_000, 25_000)

SALES_REGIONS = ("华东", "华北", "华南", "华中", "西南", "西北")

# (characters, pinyin)
SURNAMES: tuple[tuple[str, str], ...] = (
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("高", "gao"),
    ("林", "lin"),
    ("罗", "luo"),
)

# (characters, pinyin, gender usually carried by the name)
GIVEN_NAMES: tuple[tuple[str, str, str], ...] = (
    ("伟", "wei", "M"),
    ("强", "qiang", "M"),
    ("磊", "lei", "M"),
    ("军", "jun", "M"),
    ("洋", "yang", "M"),
    ("勇", "yong", "M"),
    ("杰", "jie", "M"),
    ("涛", "tao", "M"),
    ("明", "ming", "M"),
    ("超", "chao", "M"),
    ("刚", "gang", "M"),
    ("建华", "jianhua", "M"),
    ("晓明", "xiaoming", "M"),
    ("志强", "zhiqiang", "M"),
    ("浩然", "haoran", "M"),
    ("芳", "fang", "F"),
    ("娜", "na", "F"),
    ("敏", "min", "F"),
    ("静", "jing", "F"),
    ("丽", "li", "F"),
    ("艳", "yan", "F"),
    ("娟", "juan", "F"),
    ("秀英", "xiuying", "F"),
    ("霞", "xia", "F"),
    ("桂英", "guiying", "F"),
    ("婷", "ting", "F"),
    ("雪", "xue", "F"),
    ("欣怡", "xinyi", "F"),
    ("雨涵", "yuhan", "F"),
    ("平", "ping", "F"),
)

CITIES = (
    "上海",
    "北京",
    "深圳",
    "广州",
    "杭州",
    "成都",
    "武汉",
    "南京",
    "苏州",
    "天津",
    "重庆",
    "西安",
)

# (characters, pinyin used in the company's e-mail domain)
BRANDS: tuple[tuple[str, str], ...] = (
    ("华信", "huaxin"),
    ("恒达", "hengda"),
    ("鼎盛", "dingsheng"),
    ("瑞丰", "ruifeng"),
    ("金泰", "jintai"),
    ("新元", "xinyuan"),
    ("博远", "boyuan"),
    ("中科", "zhongke"),
    ("海纳", "haina"),
    ("天成", "tiancheng"),
    ("宏图", "hongtu"),
    ("众诚", "zhongcheng"),
    ("嘉和", "jiahe"),
    ("永盛", "yongsheng"),
    ("联创", "lianchuang"),
    ("远景", "yuanjing"),
)
INDUSTRIES = ("科技", "贸易", "实业", "电子", "物流", "医药", "机械", "食品", "建材", "信息技术")
MAILBOXES = ("info", "sales", "contact", "purchase", "service")

# Chinese mobile number prefixes (the first three of eleven digits).
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "158",
    "159",
    "176",
    "177",
    "180",
    "182",
    "186",
    "187",
    "189",
)

# category -> (SKU prefix, product nouns, list price band in whole CNY)
PRODUCT_CATEGORIES: dict[str, tuple[str, tuple[str, ...], tuple[int, int]]] = {
    "Electronics": (
        "ELC",
        ("无线鼠标", "机械键盘", "显示器", "移动硬盘", "路由器", "蓝牙耳机"),
        (49, 3_999),
    ),
    "Office Supplies": (
        "OFF",
        ("打印纸", "订书机", "文件柜", "白板", "签字笔", "计算器"),
        (5, 1_999),
    ),
    "Furniture": ("FUR", ("办公椅", "会议桌", "书架", "沙发", "屏风", "储物柜"), (199, 8_999)),
    "Industrial": (
        "IND",
        ("电动螺丝刀", "传感器", "气动阀门", "轴承", "变频器", "焊接机"),
        (29, 19_999),
    ),
    "Packaging": ("PKG", ("纸箱", "气泡膜", "封箱胶带", "托盘", "缠绕膜", "标签纸"), (2, 299)),
}
