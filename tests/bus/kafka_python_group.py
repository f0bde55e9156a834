"""kafka-python 2.0 against `sluice broker`: a producer, a consumer group of two members with a
rebalance, then commit and resume. Exits 0 on success; prints what went wrong otherwise."""
import logging
import sys
import threading
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import CommitFailedError

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
bs = sys.argv[1]
topic = "pygroup"
group = "pygroup-g"
deadline = time.time() + 60


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


admin = KafkaAdminClient(bootstrap_servers=bs, client_id="py-admin")
admin.create_topics([NewTopic(topic, 4, 1)])
producer = KafkaProducer(bootstrap_servers=bs, acks="all", linger_ms=5)
for i in range(200):
    producer.send(topic, key=b"k%d" % i, value=b"m%d" % i)
producer.flush(timeout=20)

def consumer(name):
    return KafkaConsumer(topic, bootstrap_servers=bs, group_id=group, client_id=name,
                         auto_offset_reset="earliest", enable_auto_commit=False,
                         session_timeout_ms=6000, heartbeat_interval_ms=300,
                         max_poll_records=20)

seen = {}
lock = threading.Lock()
stop = threading.Event()
assignments = {}


def run(name):
    # Each member polls in its own thread: a poll blocks while its member rejoins.
    c = consumer(name)
    while not stop.is_set() and time.time() < deadline:
        for tp, msgs in c.poll(timeout_ms=100).items():
            with lock:
                for m in msgs:
                    seen[(m.partition, m.offset)] = m.value
        with lock:
            assignments[name] = set(c.assignment())
        try:
            c.commit()
        except CommitFailedError:
            pass  # the group rebalanced under us; the next poll rejoins
    try:
        c.commit()
    except CommitFailedError:
        pass  # the other member left first and the group is rebalancing
    c.close()


ta = threading.Thread(target=run, args=("py-a",))
ta.start()
while time.time() < deadline:
    with lock:
        if len(assignments.get("py-a", ())) == 4:
            break
    time.sleep(0.05)
with lock:
    if len(assignments.get("py-a", ())) != 4:
        stop.set()
        fail("first member has %s, wants 4 partitions" % assignments.get("py-a"))
tb = threading.Thread(target=run, args=("py-b",))
tb.start()
balanced = False
while time.time() < deadline:
    with lock:
        a, b = assignments.get("py-a", set()), assignments.get("py-b", set())
        if len(a) == 2 and len(b) == 2 and not (a & b) and len(seen) == 200:
            balanced = True
            break
    time.sleep(0.05)
stop.set()
ta.join()
tb.join()
if not balanced:
    fail("after the rebalance: a=%s b=%s consumed=%d" % (assignments.get("py-a"),
                                                         assignments.get("py-b"), len(seen)))

for i in range(200, 250):
    producer.send(topic, key=b"k%d" % i, value=b"m%d" % i)
producer.flush(timeout=20)
producer.close()

c = consumer("py-c")
resumed = []
while len(resumed) < 50 and time.time() < deadline:
    for tp, msgs in c.poll(timeout_ms=200).items():
        resumed.extend(m.value for m in msgs)
# Nothing more should arrive.
extra = c.poll(timeout_ms=1000)
resumed.extend(m.value for msgs in extra.values() for m in msgs)
c.close()
want = sorted(b"m%d" % i for i in range(200, 250))
if sorted(resumed) != want:
    fail("resumed %d messages: %s" % (len(resumed), sorted(resumed)[:10]))
print("OK consumed=200 resumed=50")
