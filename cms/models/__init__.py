"""Wagtail page models and snippets of the public 95598 website, one module per kind of content."""
from .home import HomePage
from .knowledge import KnowledgeArticlePage, KnowledgeArticleTag, KnowledgeCategory, KnowledgeIndexPage
from .news import NewsCategory, NewsIndexPage, NewsPage
from .outages import (
    OutageNoticeFeeder,
    OutageNoticeIndexPage,
    OutageNoticePage,
    OutageNoticeSubstation,
    OutageNoticeTransformerArea,
)
from .outlets import OutletIndexPage, OutletPage
from .pages import SectionPage, StandardPage
from .policies import PolicyAttachment, PolicyIndexPage, PolicyPage
from .surveys import SurveyField, SurveyKind, SurveyPage, SurveySubmission
from .tariffs import TariffPage, TariffPageTariff

__all__ = [
    "HomePage",
    "KnowledgeArticlePage",
    "KnowledgeArticleTag",
    "KnowledgeCategory",
    "KnowledgeIndexPage",
    "NewsCategory",
    "NewsIndexPage",
    "NewsPage",
    "OutageNoticeFeeder",
    "OutageNoticeIndexPage",
    "OutageNoticePage",
    "OutageNoticeSubstation",
    "OutageNoticeTransformerArea",
    "OutletIndexPage",
    "OutletPage",
    "PolicyAttachment",
    "PolicyIndexPage",
    "PolicyPage",
    "SectionPage",
    "StandardPage",
    "SurveyField",
    "SurveyKind",
    "SurveyPage",
    "SurveySubmission",
    "TariffPage",
    "TariffPageTariff",
]
