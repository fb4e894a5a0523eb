"""The CRM sink: one client across channels, leads, transcripts, duplicates and merges.

Public names: ``CrmSink`` (the component), ``make_adapter``, and ``responsible_of`` (a read
the router may use to send a returning client to their CRM responsible).
"""

from crm_sink.actions import responsible_of
from crm_sink.service import CrmSink, make_adapter

__all__ = ["CrmSink", "make_adapter", "responsible_of"]
