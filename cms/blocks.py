"""The one StreamField block set every content page uses (bakerydemo's BaseStreamBlock)."""
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.contrib.table_block.blocks import TableBlock
from wagtail.documents.blocks import DocumentChooserBlock
from wagtail.images.blocks import ImageChooserBlock


class HeadingBlock(blocks.StructBlock):
    text = blocks.CharBlock(label=_("标题"), max_length=120)
    level = blocks.ChoiceBlock(
        label=_("级别"), choices=[("h2", _("二级标题")), ("h3", _("三级标题"))], default="h2"
    )

    class Meta:
        icon = "title"
        label = _("小标题")
        template = "cms/blocks/heading_block.html"


class CaptionedImageBlock(blocks.StructBlock):
    image = ImageChooserBlock(label=_("图片"))
    caption = blocks.CharBlock(label=_("图片说明"), required=False, max_length=200)
    alt = blocks.CharBlock(label=_("替代文字"), required=False, max_length=200)

    class Meta:
        icon = "image"
        label = _("图片")
        template = "cms/blocks/image_block.html"


class CallToActionBlock(blocks.StructBlock):
    text = blocks.CharBlock(label=_("说明"), max_length=200)
    button_label = blocks.CharBlock(label=_("按钮文字"), max_length=40)
    page = blocks.PageChooserBlock(label=_("链接页面"), required=False)
    url = blocks.CharBlock(label=_("或链接地址"), required=False, max_length=300)

    class Meta:
        icon = "link"
        label = _("行动按钮")
        template = "cms/blocks/call_to_action_block.html"


class QuestionAnswerBlock(blocks.StructBlock):
    question = blocks.CharBlock(label=_("问题"), max_length=200)
    answer = blocks.RichTextBlock(label=_("解答"), features=["bold", "italic", "link", "ol", "ul"])


class FaqBlock(blocks.StructBlock):
    title = blocks.CharBlock(label=_("标题"), required=False, max_length=120)
    items = blocks.ListBlock(QuestionAnswerBlock(), label=_("问答"))

    class Meta:
        icon = "help"
        label = _("常见问题")
        template = "cms/blocks/faq_block.html"


class DocumentBlock(blocks.StructBlock):
    document = DocumentChooserBlock(label=_("文件"))
    label = blocks.CharBlock(label=_("显示名称"), required=False, max_length=120)

    class Meta:
        icon = "doc-full"
        label = _("下载文件")
        template = "cms/blocks/document_block.html"


class ChartRowBlock(blocks.StructBlock):
    label = blocks.CharBlock(label=_("项目"), max_length=40)
    value = blocks.DecimalBlock(label=_("数值"), decimal_places=2)


class ChartBlock(blocks.StructBlock):
    """A small bar or line chart drawn on the server as SVG (no script, nothing fetched by the browser)."""

    title = blocks.CharBlock(label=_("图表标题"), max_length=120)
    kind = blocks.ChoiceBlock(label=_("图表类型"), choices=[("bar", _("柱状图")), ("line", _("折线图"))], default="bar")
    unit = blocks.CharBlock(label=_("单位"), required=False, max_length=20)
    rows = blocks.ListBlock(ChartRowBlock(), label=_("数据"), min_num=1, max_num=36)

    class Meta:
        icon = "table"
        label = _("图表")
        template = "cms/blocks/chart_block.html"


class BaseStreamBlock(blocks.StreamBlock):
    heading = HeadingBlock()
    paragraph = blocks.RichTextBlock(
        label=_("正文"), icon="pilcrow",
        features=["h2", "h3", "bold", "italic", "link", "ol", "ul", "hr", "document-link"],
        template="cms/blocks/paragraph_block.html",
    )
    image = CaptionedImageBlock()
    table = TableBlock(label=_("表格"), template="cms/blocks/table_block.html")
    call_to_action = CallToActionBlock()
    faq = FaqBlock()
    document = DocumentBlock()
    chart = ChartBlock()
