"""De-duplication across the state versions: version 6 hashes event ids with xxh3_64, versions 1 to 5
held BLAKE2b digests. A state written by an older build still drops the repeats of the events it had
seen (its hashes are matched by BLAKE2b until they age out) and is written back as version 6 with
how many of them are left; the bytes below were written by the build before version 6 (older
versions still decode: ``test_state_versions.py``)."""

from __future__ import annotations

import orjson

from rules import codec
from rules.codec_json import V2_FIELDS, encode_json
from rules.packed_lists import HASH_SIZE, digest, event_key, legacy_key
from rules.state import MAX_SEEN, CustomerState

# version 5 (binary) of a customer that saw the events e-0, e-1, e-2, then logged in at 1,790,000,000
V5 = bytes.fromhex("050300010003000000000001000000803bb16a803bb16a81f71ce05362ecae8b517202803bb16a")
# version 4 (JSON) of the same customer after a login in 2128 (a time that does not fit version 5)
V4 = (
    b'[4,"gfcc4FNi7K6LUXIC",[1790000000,3210000000],2,5000000000,[[],[],""],0,0.0,null,[],[],null,[],null,'
    b"[],[],[],null,null,[0],0,0.0,null,false,null,1790000000]"
)
SEEN = ["e-0", "e-1", "e-2"]


def test_the_two_hashes_differ_and_take_four_bytes() -> None:
    assert len(event_key("e-0")) == len(digest("e-0")) == 4
    assert event_key("e-0") != legacy_key("e-0") and legacy_key("e-0").encode("latin-1") == digest("e-0")


def _check_old(old: CustomerState) -> None:
    assert old.legacy_seen == 3 and len(old.seen) // HASH_SIZE == 3
    for event_id in SEEN:  # the repeats of what the old build saw are still found
        assert old.seen_before(event_id)
    assert not old.seen_before("e-3") and old.seen_before("e-3")  # a new id: its xxh3 hash, found again
    assert old.legacy_seen == 3 and len(old.seen) // HASH_SIZE == 4


def test_version_5_bytes_still_drop_their_repeats() -> None:
    old = CustomerState.decode(V5)
    assert list(old.logins) == [1_790_000_000] and old.first_login == 1_790_000_000
    _check_old(old)
    again = old.encode()
    assert again[0] == codec.STATE_VERSION == 6 and len(again) == len(V5) + 5  # a hash more, the count of old ones
    back = CustomerState.decode(again)
    assert back.legacy_seen == 3 and all(back.seen_before(e) for e in [*SEEN, "e-3"])
    assert CustomerState.due_of(V5) is None and CustomerState.due_of(again) is None


def test_version_4_json_still_drops_its_repeats() -> None:
    old = CustomerState.decode(V4)
    assert list(old.logins) == [1_790_000_000, 5_000_000_000]
    _check_old(old)
    again = old.encode()
    assert again[:1] == b"[" and orjson.loads(again)[0] == 6 and orjson.loads(again)[V2_FIELDS + 3] == 3
    back = CustomerState.decode(again)
    assert back.legacy_seen == 3 and all(back.seen_before(e) for e in [*SEEN, "e-3"])


def test_the_old_hashes_age_out_and_then_cost_nothing() -> None:
    old = CustomerState.decode(V5)
    for i in range(MAX_SEEN - 3):
        assert not old.seen_before(f"new-{i}")
    assert old.legacy_seen == 3 and old.seen_before("e-0")  # 32 held: the oldest still there
    assert not old.seen_before("new-x")
    assert old.legacy_seen == 2 and old.seen_before("e-1") and old.seen_before("e-2")
    assert not old.seen_before("e-0")  # its hash aged out: new again (held by its xxh3 hash now)
    assert old.legacy_seen == 1 and not old.seen_before("more")
    assert old.legacy_seen == 0 and not old.seen_before("e-2") and old.seen_before("e-0")
    data = old.encode()
    assert CustomerState.decode(data).legacy_seen == 0
    assert not (data[1] | data[2] << 8) & codec.LEGACY  # no count written when none is left


def test_a_new_state_holds_no_old_hash() -> None:
    s = CustomerState()
    assert not s.seen_before("e-0") and s.seen_before("e-0")
    data = s.encode()
    assert data[0] == 6 and CustomerState.decode(data).legacy_seen == 0
    assert orjson.loads(encode_json(s))[V2_FIELDS + 3] == 0
    # a version 6 state never matches an id by its BLAKE2b digest (the hash of another id could be it)
    s.seen += legacy_key("e-9")
    assert not s.seen_before("e-9")
