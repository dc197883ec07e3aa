"""What each system's key may do. A key holds a list of these; an endpoint names the one it needs."""
from django.utils.translation import gettext_lazy as _

READINGS_WRITE = "readings:write"
METER_EVENTS_WRITE = "meter_events:write"
TOPOLOGY_READ = "topology:read"
TOPOLOGY_WRITE = "topology:write"
FINANCE_READ = "finance:read"
BANK_READ = "bank:read"
BANK_WRITE = "bank:write"
CALLCENTER_READ = "callcenter:read"
CALLCENTER_WRITE = "callcenter:write"

SCOPES = {
    READINGS_WRITE: _("上传抄表示数（用电信息采集/集抄）"),
    METER_EVENTS_WRITE: _("上报停电/复电事件（用电信息采集/负荷管理）"),
    TOPOLOGY_READ: _("读取配网拓扑"),
    TOPOLOGY_WRITE: _("导入配网拓扑（配网信息系统）"),
    FINANCE_READ: _("读取应收、实收、欠费（财务）"),
    BANK_READ: _("下载代扣文件与对账报告（银行）"),
    BANK_WRITE: _("上传代收、代扣结果文件（银行）"),
    CALLCENTER_READ: _("查询客户、账单、工单与催费清单（呼叫中心）"),
    CALLCENTER_WRITE: _("受理工单（呼叫中心）"),
}
