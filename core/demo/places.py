"""The 恩施 prefecture as the demo knows it: 8 county branches, their service stations (供电所) and the
towns, villages and streets addresses are drawn from. Population weights follow the 2020 census (万人)."""
from __future__ import annotations

from dataclasses import dataclass

COMPANY_CODE = "ES"
COMPANY_NAME = "恩施供电公司"
PREFECTURE = "湖北省恩施土家族苗族自治州"


@dataclass(frozen=True)
class StationSpec:
    code: str
    name: str
    area_kind: str
    town: str
    places: tuple[str, ...]


@dataclass(frozen=True)
class BranchSpec:
    code: str
    name: str
    area_kind: str
    population: int
    digit: int
    id_region: str
    stations: tuple[StationSpec, ...]


def _s(code: str, name: str, area_kind: str, town: str, places: str) -> StationSpec:
    return StationSpec(code, name, area_kind, town, tuple(places.split()))


BRANCHES: tuple[BranchSpec, ...] = (
    BranchSpec("ESS", "恩施市", "city", 84, 1, "422801", (
        _s("ESS01", "舞阳坝供电所", "city", "舞阳坝街道", "施州大道 航空大道 金桂大道 舞阳大街 民族路社区 马鞍山社区"),
        _s("ESS02", "小渡船供电所", "city", "小渡船街道", "土桥大道 学院路 小渡船社区 金龙大道 大桥路社区"),
        _s("ESS03", "六角亭供电所", "city", "六角亭街道", "解放路 团结路 六角亭社区 西门坝社区 清江路"),
        _s("ESS04", "龙凤供电所", "rural", "龙凤镇", "龙凤坝村 青堡村 龙马村 三龙坝村 双堰塘村"),
        _s("ESS05", "白杨坪供电所", "rural", "白杨坪镇", "白杨坪村 洞下槽村 麂子渡村 熊家岩村"),
        _s("ESS06", "崔家坝供电所", "rural", "崔家坝镇", "崔家坝村 鸦鹊水村 滚龙坝村 石灰窑村"),
    )),
    BranchSpec("LCS", "利川市", "city", 74, 2, "422802", (
        _s("LCS01", "东城供电所", "city", "东城街道", "清江大道 腾龙大道 南坪路 东城社区 朝阳社区"),
        _s("LCS02", "都亭供电所", "city", "都亭街道", "都亭社区 胜利街 体育路 民族路社区"),
        _s("LCS03", "汪营供电所", "rural", "汪营镇", "汪营村 齐跃桥村 白羊塘村 鱼泉村"),
        _s("LCS04", "团堡供电所", "rural", "团堡镇", "团堡村 朝东岩村 野猫水村 黄泥塘村"),
        _s("LCS05", "谋道供电所", "rural", "谋道镇", "谋道村 苏拉口村 鱼木村 太平村"),
    )),
    BranchSpec("JSX", "建始县", "rural", 41, 3, "422822", (
        _s("JSX01", "业州供电所", "city", "业州镇", "朝阳路 广润路 七里坪社区 龙坪社区 业州大道"),
        _s("JSX02", "高坪供电所", "rural", "高坪镇", "高坪村 石门村 麻扎坪村 青里坝村"),
        _s("JSX03", "红岩寺供电所", "rural", "红岩寺镇", "红岩寺村 黄水村 杨柳村"),
        _s("JSX04", "景阳供电所", "rural", "景阳镇", "景阳村 河水坪村 双土地村"),
    )),
    BranchSpec("BDX", "巴东县", "rural", 42, 4, "422823", (
        _s("BDX01", "信陵供电所", "city", "信陵镇", "楚天路 巴山路 西壤坡社区 白土坡社区"),
        _s("BDX02", "东瀼口供电所", "rural", "东瀼口镇", "东瀼口村 牛洞坪村 杨柳池村"),
        _s("BDX03", "野三关供电所", "rural", "野三关镇", "野三关村 青龙桥村 穿心岩村 柏木坪村"),
        _s("BDX04", "清太坪供电所", "rural", "清太坪镇", "清太坪村 史家村 白沙坪村"),
        _s("BDX05", "金果坪供电所", "remote", "金果坪乡", "金果坪村 三友坪村 枣子坪村"),
    )),
    BranchSpec("XEX", "宣恩县", "rural", 30, 5, "422825", (
        _s("XEX01", "珠山供电所", "city", "珠山镇", "城北路 解放街 小溪社区 珠山大道"),
        _s("XEX02", "椒园供电所", "rural", "椒园镇", "椒园村 水田坝村 黄坪村"),
        _s("XEX03", "沙道沟供电所", "rural", "沙道沟镇", "沙道沟村 两河口村 布留村"),
        _s("XEX04", "李家河供电所", "rural", "李家河镇", "李家河村 旧铺村 芭蕉溪村"),
    )),
    BranchSpec("XFX", "咸丰县", "rural", 30, 6, "422826", (
        _s("XFX01", "高乐山供电所", "city", "高乐山镇", "楚蜀大道 民族路 白岩坪社区 马家沟社区"),
        _s("XFX02", "忠堡供电所", "rural", "忠堡镇", "忠堡村 石桥村 板桥村"),
        _s("XFX03", "坪坝营供电所", "rural", "坪坝营镇", "坪坝营村 新场村 杉木界村"),
        _s("XFX04", "活龙坪供电所", "rural", "活龙坪乡", "活龙坪村 茶园村 大石门村"),
    )),
    BranchSpec("LFX", "来凤县", "rural", 25, 7, "422827", (
        _s("LFX01", "翔凤供电所", "city", "翔凤镇", "凤翔大道 民族路 桂花树社区 仙佛寺社区"),
        _s("LFX02", "绿水供电所", "rural", "绿水镇", "绿水村 老寨村 田坝村"),
        _s("LFX03", "百福司供电所", "rural", "百福司镇", "百福司村 舍米湖村 河东村"),
    )),
    BranchSpec("HFX", "鹤峰县", "rural", 19, 8, "422828", (
        _s("HFX01", "容美供电所", "rural", "容美镇", "满山红路 容美大道 屏山村 八峰社区"),
        _s("HFX02", "走马供电所", "rural", "走马镇", "走马村 升子坪村 白果坪村"),
        _s("HFX03", "中营供电所", "remote", "中营镇", "中营村 三家台村 大路坪村"),
        _s("HFX04", "邬阳供电所", "remote", "邬阳乡", "邬阳村 金山村 栗子坪村"),
    )),
)

# Customers per transformer area (台区): denser in town, smaller areas in the mountains.
AREA_SIZE = {"city": 200, "rural": 150, "remote": 120}
AREAS_PER_FEEDER = 24
FEEDERS_PER_SUBSTATION = 10
