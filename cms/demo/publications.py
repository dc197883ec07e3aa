"""The demo's policies (法规政策) and news (新闻公告): original summaries and articles, dates relative to today
for the news so the site always looks current."""
from __future__ import annotations

import datetime

from .blocks import heading, paragraph, table

POLICIES: list[dict] = [
    {
        "slug": "power-supply-regulations",
        "title": "电力供应与使用条例",
        "document_number": "国务院令第196号",
        "issuing_body": "国务院",
        "issued_on": datetime.date(1996, 4, 17),
        "effective_on": datetime.date(1996, 9, 1),
        "summary": "规定供电企业和用户在电力供应与使用中的权利义务，是供用电关系的基本行政法规。",
        "body": [
            heading("主要内容"),
            paragraph(
                "<p>条例明确了供电营业区、供电设施、电力供应、电力使用、供用电合同、监督与管理和法律责任等内容。"
                "供电企业应当按照国家标准保证供电质量，用户应当按照国家核准的电价和用电计量装置的记录按时交纳电费。</p>"
            ),
            heading("与客户关系最密切的条款", "h3"),
            paragraph(
                "<ul><li>因供电设施检修需要停止供电时，应当提前七天通知用户或者进行公告。</li>"
                "<li>临时检修需要停止供电时，应当提前二十四小时通知重要用户。</li>"
                "<li>用户逾期未交付电费的，供电企业可以按规定加收电费违约金。</li></ul>"
            ),
        ],
        "attachment": "regulations_text",
    },
    {
        "slug": "business-rules",
        "title": "供电营业规则",
        "document_number": "国家发展改革委令2024年第14号",
        "issuing_body": "国家发展和改革委员会",
        "issued_on": datetime.date(2024, 2, 8),
        "effective_on": datetime.date(2024, 6, 1),
        "summary": "规范新装、增容、变更用电、计量收费和停限电等营业行为，修订后进一步压减办电时间。",
        "body": [
            heading("修订要点"),
            paragraph(
                "<p>新规则取消了部分不合理的收费和证明材料，明确低压居民新装时限，细化了停电通知、"
                "电费违约金计算、计量装置校验和争议处理等规定，强化对用户合法权益的保护。</p>"
            ),
            table(
                [
                    ["事项", "原规定", "现规定"],
                    ["居民新装时限", "各地自定", "城区不超过5个工作日"],
                    ["电能表校验申请", "须书面申请", "电话、网上均可申请"],
                    ["违约金起算", "逾期次日", "逾期次日，居民每日千分之一"],
                ]
            ),
        ],
        "attachment": "business_rules_text",
    },
    {
        "slug": "residential-tiered-pricing",
        "title": "湖北省居民生活用电阶梯电价政策",
        "document_number": "鄂价环资规〔2012〕106号",
        "issuing_body": "湖北省物价局",
        "issued_on": datetime.date(2012, 6, 20),
        "effective_on": datetime.date(2012, 7, 1),
        "summary": "居民生活用电按月分三档计价：180千瓦时以内、181至400千瓦时、400千瓦时以上。",
        "body": [
            heading("分档标准"),
            table(
                [
                    ["档位", "月用电量（千瓦时）", "加价标准（元/千瓦时）"],
                    ["第一档", "0-180", "不加价"],
                    ["第二档", "181-400", "0.05"],
                    ["第三档", "400以上", "0.30"],
                ]
            ),
            paragraph(
                "<p>一户多人口（5人及以上）家庭可凭户口簿申请增加阶梯电量基数。执行峰谷电价的居民客户，"
                "在峰谷电价基础上叠加阶梯加价。</p>"
            ),
        ],
        "attachment": None,
    },
    {
        "slug": "time-of-use-pricing",
        "title": "关于完善工商业分时电价机制的通知",
        "document_number": "鄂发改价管〔2023〕58号",
        "issuing_body": "湖北省发展和改革委员会",
        "issued_on": datetime.date(2023, 2, 28),
        "effective_on": datetime.date(2023, 4, 1),
        "summary": "工商业用户执行峰、平、谷三段电价，拉大峰谷价差，引导用户削峰填谷。",
        "body": [
            heading("时段划分"),
            table(
                [
                    ["时段", "时间"],
                    ["高峰", "08:00-11:00、18:00-23:00"],
                    ["平段", "07:00-08:00、11:00-18:00"],
                    ["低谷", "23:00-次日07:00"],
                ]
            ),
            paragraph("<p>高峰电价在平段电价基础上上浮50%，低谷电价下浮50%。具体价格见本站电价页。</p>"),
        ],
        "attachment": None,
    },
    {
        "slug": "old-rural-pricing-notice",
        "title": "关于农村居民生活用电同网同价的通知",
        "document_number": "鄂价电〔2006〕211号",
        "issuing_body": "湖北省物价局",
        "issued_on": datetime.date(2006, 9, 12),
        "effective_on": datetime.date(2006, 10, 1),
        "repealed_on": datetime.date(2012, 7, 1),
        "summary": "全省农村居民生活用电实行与城市居民同网同价；已被居民阶梯电价政策取代。",
        "body": [
            paragraph(
                "<p>自2006年10月起，全省农村居民生活用电执行与城市居民相同的电价标准。"
                "本通知自居民阶梯电价政策施行之日起废止，保留于此供查阅。</p>"
            ),
        ],
        "attachment": None,
    },
]

NEWS_CATEGORIES: list[dict] = [
    {"slug": "notices", "name": "通知公告", "name_en": "Notices", "is_notice": True},
    {"slug": "news", "name": "供电新闻", "name_en": "Power supply news", "is_notice": False},
    {"slug": "tariff-explained", "name": "电价政策解读", "name_en": "Tariffs explained", "is_notice": False},
]

# days_ago: the item's date is today minus this many days.
NEWS: list[dict] = [
    {
        "slug": "app-bill-invoice-notice", "category": "notices", "days_ago": 2,
        "title": "关于网上国网App开通电子发票自助下载的通知",
        "summary": "即日起，居民和一般工商业客户可在网上国网App自助下载电费电子发票。",
        "body": [paragraph(
            "<p>为方便客户报销和记账，即日起客户可在网上国网App“电费发票”栏目自助申请并下载电费电子发票，"
            "电子发票与纸质发票具有同等法律效力。如有疑问，请拨打95598。</p>"
        )],
    },
    {
        "slug": "spring-festival-service-notice", "category": "notices", "days_ago": 6,
        "title": "关于节假日期间营业厅营业时间调整的公告",
        "summary": "节假日期间各县市城区营业厅轮流值班，95598热线照常服务。",
        "body": [paragraph(
            "<p>节假日期间，恩施市、利川市城区营业厅正常营业，其他县城营业厅上午9:00至12:00值班。"
            "故障报修、业务咨询请拨打95598，网上国网App可24小时办理交费和查询。</p>"
        )],
    },
    {
        "slug": "meter-replacement-notice", "category": "notices", "days_ago": 11,
        "title": "关于宣恩县珠山镇部分小区智能电能表轮换的通知",
        "summary": "本月下旬将为珠山镇城北路沿线小区轮换智能电能表，不收取任何费用。",
        "body": [paragraph(
            "<p>轮换期间每户停电约20分钟，工作人员统一着装并出示工作证。换表不收取任何费用，"
            "旧表示数将现场拍照留存并由客户签字确认，请注意防范冒充工作人员的诈骗行为。</p>"
        )],
    },
    {
        "slug": "summer-peak-ready", "category": "news", "days_ago": 4,
        "title": "迎峰度夏：恩施供电完成28座变电站设备检修",
        "summary": "公司提前完成主变检修和线路通道清理，全力保障夏季用电高峰。",
        "body": [paragraph(
            "<p>为迎接夏季用电高峰，恩施供电公司组织各县市公司完成28座变电站的设备检修和试验，"
            "清理线路通道树障1,200余处，并在利川、巴东等高海拔地区储备应急发电车。</p>"
        )],
    },
    {
        "slug": "rural-grid-upgrade", "category": "news", "days_ago": 9,
        "title": "鹤峰县中营镇农网改造完工，三千户村民告别“低电压”",
        "summary": "新建和改造10千伏线路42公里，新增配变31台，村民用电更稳定。",
        "body": [paragraph(
            "<p>随着最后一台配电变压器投运，鹤峰县中营镇农网改造工程全面完工。工程新建和改造10千伏线路42公里、"
            "低压线路86公里，三家台村、大路坪村等地三千余户村民家中电压不稳的问题彻底解决。</p>"
        )],
    },
    {
        "slug": "ev-charging-expansion", "category": "news", "days_ago": 15,
        "title": "州内高速服务区充电站实现全覆盖",
        "summary": "沪渝、恩来、恩黔高速沿线服务区均已建成快充站。",
        "body": [paragraph(
            "<p>随着恩来高速咸丰服务区充电站投运，州内高速公路服务区充电设施实现全覆盖，"
            "新能源汽车车主可在网上国网App查询充电桩位置和空闲状态。</p>"
        )],
    },
    {
        "slug": "tiered-price-qa", "category": "tariff-explained", "days_ago": 20,
        "title": "一图读懂居民阶梯电价",
        "summary": "每月180度以内最便宜，用得越多单价越高。",
        "body": [
            paragraph("<p>居民阶梯电价按月分三档，第一档覆盖了大多数家庭的基本用电需求。</p>"),
            table([["档位", "月用电量", "单价（元）"], ["第一档", "0-180度", "0.558"], ["第二档", "181-400度", "0.608"],
                   ["第三档", "400度以上", "0.858"]]),
        ],
    },
    {
        "slug": "tou-price-qa", "category": "tariff-explained", "days_ago": 27,
        "title": "峰谷电价怎么选更省钱？",
        "summary": "夜间用电多的家庭，选峰谷电价一般更划算。",
        "body": [paragraph(
            "<p>居民峰谷电价的谷段为22:00至次日08:00，谷段电价比峰段低0.30元/千瓦时。"
            "如果家中电热水器、洗衣机、电动车充电多安排在夜间，选择峰谷电价每月可节省不少电费。"
            "可在电价页的计算器中分别输入峰、谷电量试算。</p>"
        )],
    },
]
