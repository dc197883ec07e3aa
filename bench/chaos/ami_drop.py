"""Drop the AMI connection repeatedly during calls: the real `manage.py run_ami` process follows the fake PBX of the
tests (tests/callcenter/fake_ami.py, the call recorded from Asterisk 22 stamped out per call, as bench/ami_bench.py
does) while the PBX closes every manager connection and refuses new ones for a moment, again and again. Each drop
comes while calls are up (answered, not yet hung up), and the hang-ups of those calls happen while the worker is
away, so only its resync (CoreShowChannels, QueueStatus) can learn of them. Afterwards every call is recorded once,
ended, answered by its agent, with each of its channels once."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.chaos.report import ScenarioReport, WorkTally
from bench.chaos.stack import Stack, say, wait_until

NAME = "ami_drop"
SIZES = {"full": {"calls": 300, "drops": 10, "agents": 30, "refuse": 1.0},
         "smoke": {"calls": 40, "drops": 3, "agents": 8, "refuse": 0.5}}
FAKE_USER, FAKE_SECRET = "chaos", "chaos-secret"
# The template call's events up to and including AgentConnect: the call is answered and talking after them.
ANSWERED_AFTER = 112


def groups_split(items: list, count: int) -> list[list]:
    """`items` in `count` consecutive groups as equal as can be (the first ones one longer)."""
    size, extra = divmod(len(items), count)
    groups, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        groups.append(items[start:end])
        start = end
    return groups


def run(stack: Stack, *, smoke: bool) -> ScenarioReport:
    from bench.ami_bench import agents_create, calls_render, interleave
    from bench.chaos.world import accounts_create
    from bench.harness import connections_release
    from bench.notifications_bench import process_start
    from core.models import Call, CallLeg, CallOutcome, CallState
    from tests.callcenter.fake_ami import FakeAmiServer

    size = SIZES["smoke" if smoke else "full"]
    accounts = accounts_create(min(size["calls"], 100))
    phones = [account.customer.phone for account in accounts]
    agents = agents_create(size["agents"], prefix="chaos-ami-agent-", first=500)
    calls = calls_render(count=size["calls"], first_index=7_000_000, phones=phones,
                         interfaces=[agent["interface"] for agent in agents])
    keys = [key for key, _events in calls]
    legs_per_call = sum(1 for event in calls[0][1] if event.startswith(b"Event: Newchannel\r\n"))
    connections_release()

    groups = groups_split(calls, size["drops"] + 1)
    with FakeAmiServer(username=FAKE_USER, secret=FAKE_SECRET) as server:
        env = {**os.environ, "AMI_HOST": "127.0.0.1", "AMI_PORT": str(server.port), "AMI_USERNAME": FAKE_USER,
               "AMI_SECRET": FAKE_SECRET, "AMI_PING_SECONDS": "2", "AMI_RECONNECT_MIN_SECONDS": "0.1",
               "AMI_RECONNECT_MAX_SECONDS": "1"}
        run_ami = process_start([sys.executable, "manage.py", "run_ami"], env=env,
                                stdout=open(stack.folder / "run_ami.log", "w"), stderr=subprocess.STDOUT)
        stack.processes.append(run_ami)
        if not server.wait_for_login(timeout=60):
            raise RuntimeError("run_ami did not log in to the fake PBX")
        say("run_ami logged in; calls and drops begin")
        started = time.monotonic()
        drops = 0
        for index, group in enumerate(groups):
            # Answered calls: up and talking when the PBX goes away.
            server.emit(interleave([events[:ANSWERED_AFTER] for _key, events in group]))
            if index == len(groups) - 1:
                server.emit(interleave([events[ANSWERED_AFTER:] for _key, events in group]))
                break
            time.sleep(0.3)
            logins = server.logins
            server.drop(refuse_seconds=size["refuse"])
            drops += 1
            # They hang up while nobody listens.
            server.emit(interleave([events[ANSWERED_AFTER:] for _key, events in group]))
            if not server.wait_for_login(count=logins + 1, timeout=30):
                raise RuntimeError("run_ami did not come back after a drop")
            time.sleep(0.3)  # past the resync

        def ended() -> bool:
            return Call.objects.filter(call_key__in=keys, state=CallState.ENDED).count() == len(keys)

        say(f"{drops} drops done; waiting for every call to end")
        wait_until(ended, timeout=120, interval=0.5)
        elapsed = time.monotonic() - started
        time.sleep(2)
        stack.process_stop(run_ami)
        resyncs = sum(1 for action in server.actions if action.get("Action") == "CoreShowChannels")

    recorded = Call.objects.filter(call_key__in=keys)
    unique_ids = [event.split(b"Uniqueid: ", 1)[1].split(b"\r\n", 1)[0].decode()
                  for _key, events in calls for event in events if event.startswith(b"Event: Newchannel\r\n")]
    problems = []
    if run_ami.returncode not in (0, -15):
        problems.append(f"run_ami exited with {run_ami.returncode} (see run_ami.log)")
    return ScenarioReport(
        name=NAME,
        load=(f"{len(keys)} queued calls answered by {len(agents)} agents ({len(calls[0][1])} AMI events each, "
              f"{legs_per_call} channels), through the real run_ami process"),
        faults=(f"{drops} connection drops while calls were up (the PBX refused logins for {size['refuse']} s "
                f"each; the calls' hang-ups were sent while nobody listened); {resyncs} resyncs"),
        work=[
            WorkTally.from_counts("calls recorded", expected=keys, effects=recorded.values_list("call_key", flat=True)),
            WorkTally.from_counts("calls ended as answered", expected=keys,
                                  effects=recorded.filter(state=CallState.ENDED, outcome=CallOutcome.ANSWERED)
                                  .values_list("call_key", flat=True)),
            WorkTally.from_counts("channels (call legs) recorded", expected=unique_ids,
                                  effects=CallLeg.objects.filter(call__call_key__in=keys)
                                  .values_list("unique_id", flat=True)),
        ],
        figures={"seconds until every call ended": round(elapsed, 1)},
        problems=problems,
    )
