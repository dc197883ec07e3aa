"""Events core emits for the other apps to subscribe to; core imports none of them."""
from django.dispatch import Signal

# Sent by seed_demo once the demo data is in place, so other apps can add their own demo content (e.g. the CMS site).
demo_data_seeded = Signal()

# Sent after the transaction that changed a ticket commits, once per change, with
# ticket_id, event_id, kind (a TicketEvent.Kind) and step_id (or None). Notifications and live pages subscribe.
ticket_changed = Signal()

# Sent after commit when an outage is announced, revised, restored or cancelled: outage_id, kind (one of
# "announced", "revised", "restored", "cancelled") and material (True when customers were told something new:
# announced, times or scope changed, re-announced after a cancel, restored, cancelled).
# notifications tells the affected customers; cms drops cached pages.
outage_changed = Signal()

# Sent after commit by core.services.customer_alerts once per scan chunk that raised alerts: alerts, a list of dicts
# each with binding_id (None for a smart-prepaid holder's own alert, which names account_id instead), account_id, kind
# ("tier_threshold_near" or "prepaid_balance_low"), data (the message data) and idempotency_key.
customer_alerts_raised = Signal()

# Sent after commit by core.services.calls when a call changes in a way the console or the wallboard shows:
# call_id, kind (one of "started", "identified", "queued", "offered", "answered", "left_queue", "ended",
# "wrapped_up", "ticket_linked"), agent_id (the agent user the call was offered to or answered by, or None) and at
# (when it happened: the PBX's or Twilio's time for the transports' facts, the service's time otherwise).
# callcenter pushes screen-pops and queue state over the channel layer.
call_changed = Signal()

# Sent after commit when an agent's state changes: agent_id, state (a core.models.AgentState value), reason.
agent_state_changed = Signal()

# Sent after commit when a caller asks for an SMS (core.services.calls / callcenter IVR): kind ("payment_link",
# "agent_message", "restoration_callback_registered"), phone, data (message data), idempotency_key,
# customer_id (or None). notifications sends it.
caller_sms_requested = Signal()
