"""The demo's business halls (营业厅), one per county, and its two surveys."""
from __future__ import annotations

from decimal import Decimal

WEEKDAY_HOURS = "周一至周五 8:30-17:30\n周六 9:00-12:00"
CITY_HOURS = "周一至周日 8:30-17:30\n法定节假日 9:00-12:00"
SERVICES = "电费交纳\n新装、增容\n更名、过户\n峰谷电价申请\n电能表校验申请\n电费发票打印"

# (branch code, slug, title, address, phone, hours, latitude, longitude, self-service terminal)
OUTLETS: list[tuple[str, str, str, str, str, str, Decimal, Decimal, bool]] = [
    ("ESS", "enshi-shizhou", "恩施市施州大道营业厅", "恩施市舞阳坝街道施州大道128号", "0718-8221598", CITY_HOURS,
     Decimal("30.283100"), Decimal("109.480600"), True),
    ("LCS", "lichuan-qingjiang", "利川市清江大道营业厅", "利川市东城街道清江大道56号", "0718-7221598", CITY_HOURS,
     Decimal("30.291400"), Decimal("108.936500"), True),
    ("JSX", "jianshi-yezhou", "建始县业州营业厅", "建始县业州镇业州大道88号", "0718-3221598", WEEKDAY_HOURS,
     Decimal("30.601700"), Decimal("109.722500"), True),
    ("BDX", "badong-xinling", "巴东县信陵营业厅", "巴东县信陵镇楚天路21号", "0718-4321598", WEEKDAY_HOURS,
     Decimal("31.041600"), Decimal("110.340800"), False),
    ("XEX", "xuanen-zhushan", "宣恩县珠山营业厅", "宣恩县珠山镇珠山大道35号", "0718-5821598", WEEKDAY_HOURS,
     Decimal("29.987300"), Decimal("109.491200"), True),
    ("XFX", "xianfeng-gaoleshan", "咸丰县高乐山营业厅", "咸丰县高乐山镇楚蜀大道102号", "0718-6821598",
     WEEKDAY_HOURS, Decimal("29.665200"), Decimal("109.139800"), False),
    ("LFX", "laifeng-xiangfeng", "来凤县翔凤营业厅", "来凤县翔凤镇凤翔大道66号", "0718-6221598", WEEKDAY_HOURS,
     Decimal("29.493600"), Decimal("109.407900"), True),
    ("HFX", "hefeng-rongmei", "鹤峰县容美营业厅", "鹤峰县容美镇容美大道18号", "0718-5221598", WEEKDAY_HOURS,
     Decimal("29.890500"), Decimal("110.033700"), False),
]

SATISFACTION = "非常满意\n满意\n一般\n不满意"

# Each field: (clean name, label, field type, required, choices, help text)
SURVEYS: list[dict] = [
    {
        "slug": "market-survey",
        "title": "2025年居民用电需求调查",
        "kind": "market_survey",
        "intro": "<p>为了解居民家庭用电设备和用电习惯，更好地规划电网建设，请您花两分钟填写本问卷。匿名填写即可。</p>",
        "thank_you_text": "<p>感谢您的参与！调查结果将用于改进供电服务。</p>",
        "login_required": False,
        "one_response_per_customer": False,
        "fields": [
            ("county", "您居住的县市", "dropdown", True,
             "恩施市\n利川市\n建始县\n巴东县\n宣恩县\n咸丰县\n来凤县\n鹤峰县", ""),
            ("appliances", "家中有哪些大功率电器", "checkboxes", False,
             "空调\n电热水器\n电磁炉\n电暖器\n电动汽车\n电动自行车", "可多选"),
            ("monthly_kwh", "每月大约用电多少度", "number", False, "", "不清楚可以不填"),
            ("ev_plan", "两年内是否打算购买电动汽车", "radio", True, "是\n否\n还没想好", ""),
            ("suggestion", "对供电服务的建议", "multiline", False, "", ""),
        ],
    },
    {
        "slug": "opinion-collection",
        "title": "供电服务意见征集",
        "kind": "opinion",
        "intro": "<p>您对停电通知、抢修速度、营业厅服务有什么意见和建议？每位客户可提交一次，请登录后填写。</p>",
        "thank_you_text": "<p>您的意见已收到，我们会在5个工作日内整理反馈。</p>",
        "login_required": True,
        "one_response_per_customer": True,
        "fields": [
            ("overall", "您对供电服务的总体评价", "radio", True, SATISFACTION, ""),
            ("outage_notice", "停电通知是否及时", "radio", True, "及时\n一般\n不及时\n没收到过", ""),
            ("repair_speed", "故障抢修速度", "radio", False, SATISFACTION, ""),
            ("contact_email", "联系邮箱", "email", False, "", "需要回复时填写"),
            ("opinion", "意见和建议", "multiline", True, "", ""),
        ],
    },
]
