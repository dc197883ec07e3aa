"""Chinese personal and business names for demo customers, weighted like the 恩施 population
(the common national surnames plus the Tujia and Miao surnames frequent in 恩施: 向, 田, 冉, 覃, 谭, 彭)."""
from __future__ import annotations

import random
from bisect import bisect
from itertools import accumulate

# (surname, relative weight): roughly the national frequency list, with 恩施's local surnames raised.
SURNAMES = [
    ("王", 72), ("李", 72), ("张", 70), ("刘", 55), ("陈", 48), ("杨", 46), ("黄", 36), ("向", 34), ("田", 32),
    ("谭", 28), ("周", 26), ("吴", 24), ("彭", 24), ("赵", 22), ("徐", 20), ("孙", 18), ("胡", 18), ("朱", 16),
    ("高", 16), ("林", 14), ("何", 14), ("郭", 14), ("马", 14), ("罗", 14), ("冉", 14), ("覃", 13), ("邓", 12),
    ("梁", 12), ("宋", 11), ("郑", 11), ("谢", 11), ("韩", 10), ("唐", 10), ("冯", 10), ("于", 9), ("董", 9),
    ("萧", 8), ("程", 8), ("曹", 8), ("袁", 8), ("许", 8), ("傅", 7), ("沈", 7), ("曾", 7), ("吕", 7), ("苏", 7),
    ("卢", 6), ("蒋", 6), ("蔡", 6), ("贾", 6), ("丁", 6), ("魏", 6), ("薛", 6), ("叶", 6), ("阎", 5), ("余", 5),
    ("潘", 5), ("杜", 5), ("戴", 5), ("夏", 5), ("钟", 5), ("汪", 5), ("任", 5), ("姜", 5), ("范", 5), ("方", 5),
    ("石", 5), ("姚", 5), ("廖", 4), ("邹", 4), ("熊", 4), ("金", 4), ("陆", 4), ("郝", 4), ("孔", 4), ("白", 4),
    ("崔", 4), ("康", 4), ("毛", 4), ("邱", 4), ("秦", 4), ("江", 4), ("史", 4), ("顾", 4), ("侯", 4), ("邵", 4),
    ("孟", 3), ("龙", 3), ("万", 3), ("段", 3), ("雷", 3), ("钱", 3), ("汤", 3), ("尹", 3), ("黎", 3), ("易", 3),
    ("常", 3), ("武", 3), ("乔", 3), ("贺", 3), ("赖", 3), ("龚", 3), ("文", 3), ("滕", 2), ("牟", 2), ("鄢", 2),
]
_SURNAME_CUMULATIVE = list(accumulate(weight for _, weight in SURNAMES))

GIVEN_MALE = "伟强军磊勇杰涛明超刚平辉鹏华飞斌波俊峰建国志文林海东宇浩然子轩博文天佑鑫森坤洪武兵"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀英玲红燕萍梅琳雪琴云莲婷慧佳欣怡悦雨彤诗涵梓萱晓兰春桂菊"
GIVEN_EITHER = "小晓春秋德家永成庆安利长明红金玉新正世光"

BUSINESS_PREFIXES = ["鑫源", "华达", "兴隆", "富民", "清江", "硒都", "武陵", "土家", "龙凤", "福源", "恒通", "顺发",
                     "宏盛", "金穗", "绿源", "民生", "康泰", "利民", "山城", "峡谷"]
BUSINESS_KINDS = ["超市", "农家乐", "酒店", "餐馆", "便利店", "五金店", "药房", "茶庄", "宾馆", "建材店", "汽修厂",
                  "洗车店", "幼儿园", "诊所", "菜市场"]
INDUSTRY_KINDS = ["硒茶有限公司", "水泥有限公司", "矿业有限公司", "食品有限公司", "建材有限公司", "烟叶复烤厂",
                  "水电开发有限公司", "硅业有限公司", "木业有限公司", "饮品有限公司"]
AGRICULTURE_KINDS = ["茶叶专业合作社", "烟叶种植合作社", "排灌站", "蔬菜基地", "养殖场", "魔芋种植基地",
                     "猕猴桃合作社"]


def person_name(rng: random.Random, *, female: bool) -> str:
    surname = SURNAMES[bisect(_SURNAME_CUMULATIVE, rng.random() * _SURNAME_CUMULATIVE[-1])][0]
    pool = GIVEN_FEMALE if female else GIVEN_MALE
    if rng.random() < 0.35:
        return surname + rng.choice(pool)
    return surname + rng.choice(GIVEN_EITHER + pool) + rng.choice(pool)


def business_name(rng: random.Random, *, place: str, kinds: list[str]) -> str:
    return f"{place}{rng.choice(BUSINESS_PREFIXES)}{rng.choice(kinds)}"
