"""spdz2k against a cheating party: every kind of tampering, ring and boolean side, 1,000
randomised trials each.

A trial is a whole session (2 or 3 parties, in-process, insecure local dealer): inputs, a product
(or a truncation), a reveal. One party, chosen at random, tampers once: it adds an offset (1,
2^63, 2^64 - 1, 2^127 or a random nonzero 128-bit value) to one random element of
(a) a value share it opens, (b) a MAC share, (c) the masked input it broadcasts (the same to
every peer, while it keeps the honest one), (d) the masked input it broadcasts, differently to
two peers, (e) its seed opening, commitment or check values in the MAC check, (f) a dealer
correction it received, (g) truncation material (truncation triples, and the tmul tuples of the
one-round truncating product). Every trial: every party, honest or not, raises
CheatingDetected from the reveal, so no value is ever returned (the cheater may fail otherwise:
it is not bound to run the checks). Zero misses (a single tampered
element is caught with certainty: alpha and every chi are odd, see mpc.engines.mac_check).
And an honest run never raises.

Which check catches it: a tampered opening or broadcast (a-d, their boolean twins, the lockstep)
must be caught by the check a reveal runs *before* its opening ("before reveal"), so no honest
party ever sends a share of an output computed from it (test_no_output_leaves_before_...: what
a later catch would let a cheater learn). A change to material or to the reveal's own opening or
check (e-g, bit material, the mixed reveal) may be caught after the opening instead: material
that reaches the output through public linear steps only shifts the cheater's own share of it
by an amount the cheater knows (it learns the output, as it would anyway, and nothing else),
while material that feeds a further opening is caught with that opening, before the reveal.

The boolean side (authenticated bits with GF(2^64) MACs; the session computes x < y or ReLU,
whose MSB circuit opens an edaBit-masked value, then runs 6 layers of authenticated AND gates and
a daBit B2A or bit-injection round): the cheater XORs a random nonzero mask (1, 2^63, all ones, a
random bit or a random word) into (a) one word of its share of an opened bit word (a masked AND
input d_i or e_i of a random layer, or its masked bit in the B2A), (b) a binary MAC share (of
the MSB's unpacked result bit, or the folded MAC or one bit's MAC of an AND output), (e) its
bit-ledger words in the MAC check (in the message, after committing; or before committing, so
the commitment matches and the check values themselves must catch it), (g) bit material (an
authenticated AND triple, daBit, bit-injection triple or edaBit: a bit, a folded or bit MAC,
or a ring value or MAC; bits only at positions of real elements, not the padding of the last
word), (c, d) the masked bit words it broadcasts when every party inputs bits at once (to every
peer, or to one of two peers). Trials that change no value (a MAC error on a share that is never opened, or whose bit is
multiplied by a public 0; an offset confined to the upper 64 bits of a ring value) may end with
the honest result instead ("vanished", counted); every trial that changes a value must be caught.
A bit check misses with probability at most 2^-63 per check, so zero misses is the expectation.

Lockstep: in a sigmoid, whose comparisons and polynomial share one message per round, the
cheater changes one word of one round's message (any protocol's part): always caught.
"""

import numpy as np
import pytest
from _tamper import add128, add128_planar, one_shot

import mpc
from mpc.errors import CheatingDetected, ProtocolError
from mpc.preprocessing.base import AuthBitTriple
from mpc.sharing.auth_bits import BAUTH
from mpc.testing import run_local

TRIALS = 1000
OFFSETS = [1, 1 << 63, (1 << 64) - 1, 1 << 127]
M64 = (1 << 64) - 1


def high_only(offset: int) -> bool:
    """True when the offset changes no value mod 2^64 (see the module docstring)."""
    return offset % (1 << 64) == 0


def draw_offset(rng) -> int:
    if rng.random() < 0.6:
        return OFFSETS[rng.integers(len(OFFSETS))]
    return int(rng.integers(1, 1 << 63)) << int(rng.integers(0, 65))  # nonzero, up to 2^127 scale


X = np.rint(np.linspace(-3, 4, 5) * 2**16) / 2**16  # the inputs, as encoded


def exactly(want):
    return lambda result: isinstance(result, np.ndarray) and np.array_equal(result, want)


def inputs(p, shape=(5,)):
    x = np.linspace(-3, 4, int(np.prod(shape))).reshape(shape)
    a = p.input(x if p.pid == 0 else None, owner=0, shape=shape)
    b = p.input(x[::-1].copy() if p.pid == p.n - 1 else None, owner=p.n - 1, shape=shape)
    return a, b


BEFORE_REVEAL = "(before reveal)"  # the label of the check a reveal runs before its opening


def run_trials(make_main, harmless, parties=(2, 3), caught_by: str | None = BEFORE_REVEAL):
    """Run TRIALS sessions; in each, every honest party must raise CheatingDetected, from the
    check named ``caught_by`` when given: by default the one a reveal runs before its opening,
    so no honest party sent a share of the output (None: any check, for tampering with the
    reveal's own opening or check). ``make_main(rng, n)`` returns (main, cheater, may_vanish). A
    trial marked ``may_vanish`` may instead end with every honest party's result satisfying
    ``harmless`` (the honest result); those are counted in ``vanished``. Returns (misses,
    vanished)."""
    rng = np.random.default_rng(20261204)
    misses, vanished = [], 0
    for t in range(TRIALS):
        n = int(rng.choice(parties))
        main, cheater, may_vanish = make_main(rng, n)
        out = run_local(main, n, engine="spdz2k", timeout=20, return_exceptions=True)
        honest = [o for i, o in enumerate(out) if i != cheater]
        if all(isinstance(o, CheatingDetected) and (caught_by is None or caught_by in str(o)) for o in honest):
            continue
        if may_vanish and all(not isinstance(o, Exception) and harmless(o) for o in honest):
            vanished += 1
            continue
        misses.append((t, n, [repr(o)[:100] for o in out]))
    return misses, vanished


def test_a_value_share_it_opens():  # the product's opening of (d, e)
    def make(rng, n):
        cheater, index, offset = int(rng.integers(n)), int(rng.integers(10)), draw_offset(rng)

        def main(p):
            a, b = inputs(p)
            if p.pid == cheater:  # the next exchange is the product's opening of (d, e): 10 elements, planar
                one_shot(p.channel, "exchange", lambda arr: add128_planar(arr, index, offset))
            return p.reveal(a * b)
        return main, cheater, high_only(offset)

    misses, _ = run_trials(make, exactly(X * X[::-1]))
    assert misses == []


def test_b_a_mac_share():
    def make(rng, n):
        cheater, index, offset = int(rng.integers(n)), int(rng.integers(5)), draw_offset(rng)

        def main(p):
            a, b = inputs(p)
            if p.pid == cheater:
                target = a if rng.random() < 0.5 else b
                add128(target._share["m"], index, offset)
            return p.reveal(a * b)
        return main, cheater, high_only(offset)

    misses, _ = run_trials(make, exactly(X * X[::-1]))
    assert misses == []


def test_c_the_masked_input_it_broadcasts():
    def make(rng, n):
        index, offset = int(rng.integers(5)), draw_offset(rng)

        def main(p):
            if p.pid == 0:  # the owner sends e + offset to every peer and keeps e itself
                orig = p.channel.send

                def send(to, arr, tag):
                    if arr.shape == (5, 2):  # the masked input, not the input agreement's words
                        arr = np.array(arr, copy=True)
                        add128(arr, index, offset)
                    return orig(to, arr, tag)
                p.channel.send = send
            a = p.input(np.arange(5.0) if p.pid == 0 else None, owner=0, shape=(5,))
            if p.pid == 0:
                del p.channel.send  # back to the class's method
            return p.reveal(a * a)
        return main, 0, high_only(offset)

    misses, _ = run_trials(make, exactly(np.arange(5.0) ** 2))
    assert misses == []


def test_d_a_broadcast_input_sent_differently_to_two_peers():
    def make(rng, n):
        index, offset, victim = int(rng.integers(5)), draw_offset(rng), int(rng.integers(1, 3))

        def main(p):
            if p.pid == 0:  # party `victim` gets e + offset, the other peer e
                orig = p.channel.send

                def send(to, arr, tag):
                    if to == victim and arr.shape == (5, 2):
                        arr = np.array(arr, copy=True)
                        add128(arr, index, offset)
                    return orig(to, arr, tag)
                p.channel.send = send
            a = p.input(np.arange(5.0) if p.pid == 0 else None, owner=0, shape=(5,))
            if p.pid == 0:
                del p.channel.send
            return p.reveal(a + 1)
        return main, 0, high_only(offset)

    misses, _ = run_trials(make, exactly(np.arange(5.0) + 1), parties=(3,))
    assert misses == []


def test_e_its_messages_in_the_mac_check():
    # round 1: nonce, seed share (4 words); round 2: commitment (4); round 3: nonce, the ring
    # ledger's z, y, p, the bit ledger's z, y, p, commitment hash (15 words that this check relies
    # on; the next seed's commitment follows)
    words = {1: 4, 2: 4, 3: 15}

    def make(rng, n):
        cheater, rnd, offset = int(rng.integers(n)), int(rng.integers(1, 4)), draw_offset(rng)
        word, before = int(rng.integers(words[rnd])), rng.random() < 0.5

        def tamper(arr):
            arr[word] = np.uint64((int(arr[word]) + (offset & M64 or 1)) & M64)  # the offset's low word (never 0)

        def main(p):
            a, b = inputs(p)
            c = a * b
            if p.pid == cheater:  # the check before the reveal's opening (3 rounds), the opening, its check
                one_shot(p.channel, "exchange", tamper, skip=rnd - 1 if before else 3 + rnd)
            return p.reveal(c)
        return main, cheater, False  # a hash: any change is a different message

    misses, vanished = run_trials(make, exactly(X * X[::-1]), caught_by=None)
    assert misses == [] and vanished == 0


def test_f_a_dealer_correction():
    def make(rng, n):
        offset = draw_offset(rng)
        which = int(rng.integers(3))  # the correction batch of the first input mask, the triple, the reveal mask

        def main(p):
            if p.pid == n - 1:  # party n-1 receives the corrections
                def change(corr):
                    add128(corr, int(rng.integers(corr.size // 2)), offset)
                orig = p.preprocessing._corrections
                calls = [0]

                def corrections(reqs):
                    flat = np.array(orig(reqs), copy=True)
                    calls[0] += 1
                    if calls[0] == (1, 3, 4)[which]:
                        change(flat)
                    return flat
                p.preprocessing._corrections = corrections
            a, b = inputs(p)
            return p.reveal(a * b)
        return main, n - 1, high_only(offset)

    misses, _ = run_trials(make, exactly(X * X[::-1]), caught_by=None)
    assert misses == []


@pytest.mark.parametrize("field", ["r", "r_high", "r_msb"])
def test_g_truncation_material(field):
    def correct(result):  # the honest truncation: floor or floor + 1 ulp of the exact product
        return isinstance(result, np.ndarray) and bool(np.all(np.abs(result - X * X[::-1]) <= 2.0**-16))

    def make(rng, n):
        cheater, offset = int(rng.integers(n)), draw_offset(rng)
        part, index = ("v", "m")[int(rng.integers(2))], int(rng.integers(5))

        def main(p):
            a, b = inputs(p)
            if p.pid == cheater:
                orig = p.preprocessing.trunc_triples

                def trunc_triples(*args, **kwargs):
                    t = orig(*args, **kwargs)
                    add128(getattr(t, field)[part], index, offset)
                    return t
                p.preprocessing.trunc_triples = trunc_triples
            return p.reveal((a * b).truncate())
        return main, cheater, field == "r_msb" or high_only(offset)

    misses, _ = run_trials(make, correct, caught_by=None)
    assert misses == []


def test_g_truncating_product_material():
    """(g) for the one-round truncating product: a cheater offsets one component of its share of
    an authenticated ``tmul`` tuple (a mask, a shifted part, a top bit or a cross product; value
    or MAC). A mask's change is an opened value's; any other component enters the result with a
    public coefficient, so the reveal's check sees it unless coefficient times offset is 0 mod
    2^128, in which case the result is exactly the honest one."""
    fields = ("r1", "r2", "a1", "m1", "a2", "m2", "a1a2", "m1a2", "a1m2")
    honest = []

    def correct(result):
        return isinstance(result, np.ndarray) and bool(np.array_equal(result, honest[0]))

    def make(rng, n):
        cheater, offset = int(rng.integers(n)), draw_offset(rng)
        field, part, index = fields[int(rng.integers(len(fields)))], ("v", "m")[int(rng.integers(2))], int(rng.integers(5))

        def main(p):
            a, b = inputs(p)
            if p.pid == cheater:
                orig = p.preprocessing.trunc_products

                def trunc_products(*args, **kwargs):
                    t = orig(*args, **kwargs)
                    add128(getattr(t, field)[part], index, offset)
                    return t
                p.preprocessing.trunc_products = trunc_products
            return p.reveal((a * b) * (b * a))  # both operands pending: one tmul opening
        return main, cheater, field not in ("r1", "r2") or high_only(offset)

    def plain(p):
        a, b = inputs(p)
        return p.reveal((a * b) * (b * a))

    # X's products are multiples of 2^-4: their truncations are exact, so the honest result is
    # the same in every run and a trial that changes nothing must give exactly it
    honest.append(run_local(plain, 2, engine="spdz2k")[0])
    np.testing.assert_array_equal(honest[0], (X * X[::-1]) ** 2)
    misses, vanished = run_trials(make, correct, caught_by=None)
    assert misses == [] and vanished < TRIALS // 2
    print(f"truncating-product material: {vanished} of {TRIALS} trials changed no value")


# ----------------------------------------------------------------------------- the boolean side

MASKS = [1, 1 << 63, M64]
LT = (X < X[::-1]).astype(np.int64)  # the honest a < b
RELU = np.maximum(X[::-1], 0)


def draw_mask(rng) -> int:
    """A nonzero word to XOR in: an edge, a random single bit, or a random word."""
    r = rng.random()
    if r < 0.4:
        return MASKS[rng.integers(len(MASKS))]
    if r < 0.7:
        return 1 << int(rng.integers(64))
    return int(rng.integers(1, 1 << 63)) << int(rng.integers(2)) or 1


def xor_word(arr: np.ndarray, index: int, mask: int) -> None:
    flat = arr.reshape(-1)
    if not np.shares_memory(flat, arr):
        raise AssertionError("the tampered array must be changed in place")
    flat[index] ^= np.uint64(mask)


def compared(p):
    a, b = inputs(p)
    return a, b


def test_boolean_a_an_opened_bit_share():
    # a < b: exchange 0 opens the edaBit-masked c (ring), 1..6 are the AND layers, 7 the B2A
    def make(rng, n):
        cheater, layer, mask = int(rng.integers(n)), int(rng.integers(7)), draw_mask(rng)

        def main(p):
            a, b = compared(p)
            if p.pid == cheater:
                one_shot(p.channel, "exchange", lambda arr: xor_word(arr, int(rng.integers(arr.size)), mask),
                         skip=1 + layer)
            return p.reveal(a < b)
        return main, cheater, False  # every opened bit counts: no trial may vanish

    misses, vanished = run_trials(make, exactly(LT))
    assert misses == [] and vanished == 0


def test_boolean_b_a_binary_mac_share():
    def make(rng, n):
        cheater, target, mask = int(rng.integers(n)), ("bit", "fold", "mac")[int(rng.integers(3))], draw_mask(rng)
        layer, element, bit, pick = int(rng.integers(5)), int(rng.integers(5)), int(rng.integers(64)), rng.random()

        def main(p):
            a, b = compared(p)
            if p.pid == cheater and target == "bit":  # the MSB's unpacked bit: its MAC goes into the B2A opening
                conv = p.engine.converter
                msb = conv.msb

                def tampered(xs):
                    out = msb(xs)
                    out[0]["m"].reshape(-1)[element] ^= np.uint64(mask)
                    return out
                conv.msb = tampered
            elif p.pid == cheater:  # an output of AND layer `layer`: its folded MAC, or one bit's MAC
                eng = p.engine.bits
                and_steps = eng.and_steps  # and_many runs it too
                calls = [0]

                def tampered_and(pairs, **kwargs):
                    out = yield from and_steps(pairs, **kwargs)
                    calls[0] += 1
                    if calls[0] == layer + 1:  # a random output word (light ones have no bit MACs: their fold)
                        filled = [o.reshape(-1) for o in out if o.size]
                        arr = filled[int(pick * len(filled))]
                        rec = arr[int(pick * arr.size)]
                        if target == "fold" or "m" not in arr.dtype.names:
                            rec["f"] ^= np.uint64(mask)
                        else:
                            rec["m"][bit] ^= np.uint64(mask)
                    return out
                eng.and_steps = tampered_and
            return p.reveal(a < b)
        # a MAC error changes no value: it may go unseen when that MAC is never used (the result is then exact)
        return main, cheater, target != "bit"

    misses, vanished = run_trials(make, exactly(LT))
    assert misses == [] and vanished < TRIALS // 2
    print(f"binary MAC share: {vanished} of {TRIALS} trials changed no value")


def test_boolean_e_its_bit_ledger_words_in_the_mac_check():
    # round 3: nonce (2), ring z, y, p (6), bit z, y, p (3), commitment hash (4), next commitment (4)
    def make(rng, n):
        cheater, word, mask, before = int(rng.integers(n)), int(rng.integers(3)), draw_mask(rng), rng.random() < 0.5

        def main(p):
            a, b = compared(p)
            c = a < b
            if p.pid == cheater and before:  # committed to: the check values must catch it themselves
                ledger = p.engine.mac.bits
                payload = ledger.payload

                def tampered(prg):
                    words, count = payload(prg)
                    words = words.copy()
                    words[word] ^= np.uint64(mask)
                    return words, count
                ledger.payload = tampered
            elif p.pid == cheater:  # in the message only: the commitment catches it
                one_shot(p.channel, "exchange", lambda arr: xor_word(arr, 8 + word, mask), skip=2)  # the check before the reveal
            return p.reveal(c)
        return main, cheater, False

    misses, vanished = run_trials(make, exactly(LT))
    assert misses == [] and vanished == 0


MATERIAL = ("bit_triples", "dabits", "edabits", "bit_mul_triples")


def tamper_item(item, choice) -> None:
    """Change one component of an authenticated item in place (``choice``: pre-drawn numbers): a
    bit of a real element (elements 0..4, in the first word of every row), a folded or bit MAC, or
    a ring value or MAC. An AND triple's a, b and c are also in its heads (light words, what the
    masking and a light AND read): a bit changes in both, as a party that holds another share
    would use it; the heads alone change what reads them only. A light triple's c (a dealer's, for
    the light ANDs) is its head: one array, changed once."""
    comp_u, field_u, row_u, element, bit, mask, offset = choice
    comps = [c for c in item if isinstance(c, np.ndarray) and c.dtype.names]
    index = int(comp_u * len(comps))
    comp = comps[index]
    if "w" in comp.dtype.names:  # BAUTH words (or a triple's heads, LAUTH: no bit MACs): a
        # triple's words are rows (planes) of one word each
        row = int(row_u * comp.shape[0])
        rec = comp[row, 0] if comp.ndim == 2 else comp[row]
        fields = comp.dtype.names
        field = fields[int(field_u * len(fields))]
        if field == "w":
            rec["w"] ^= np.uint64(1 << element)
            if isinstance(item, AuthBitTriple) and index < 3 and item[3 + index] is not comp:  # a, b or c:
                item[3 + index]["w"][row] ^= np.uint64(1 << element)  # its heads too (a light triple's c is its head)
        elif field == "f":
            rec["f"] ^= np.uint64(mask)
        else:
            rec["m"][bit] ^= np.uint64(mask)
        return
    add128(comp["v" if field_u < 0.5 else "m"], element % comp.size, offset)


def changes_a_value(item, choice) -> bool:
    """Whether :func:`tamper_item` changes a value (a bit share, or a ring value mod 2^64) that
    the comparison always uses. Not so c's heads alone in an AND triple (read by light ANDs only),
    nor an edaBit's planes and pair products (its BAUTH components) below the top bit: the first
    level of the comparison tree reads them only through public coefficients, ~c bits
    (:meth:`~mpc.engines.authbits.AuthBits.lt_pairs_light`), and where those are 0 for the
    changed element, the change changes nothing; the result must then be exactly the honest one."""
    comp_u, field_u, row_u, *_, offset = choice
    comps = [c for c in item if isinstance(c, np.ndarray) and c.dtype.names]
    index = int(comp_u * len(comps))
    comp = comps[index]
    if "w" in comp.dtype.names:
        if isinstance(item, AuthBitTriple) and index == 5 and item.lc is not item.c:  # c's heads alone: a light
            return False  # AND reads them, a full one (the top chain's, one a layer) c's record
        if len(comps) == 3 and comp.dtype == BAUTH and int(row_u * comp.shape[0]) < 62:  # an edaBit with pairs
            return False
        return int(field_u * len(comp.dtype.names)) == 0
    return field_u < 0.5 and not high_only(offset)


def test_boolean_g_bit_material():
    def make(rng, n):
        cheater, kind = int(rng.integers(n)), MATERIAL[int(rng.integers(len(MATERIAL)))]
        choice = (rng.random(), rng.random(), rng.random(), int(rng.integers(5)), int(rng.integers(64)),
                  draw_mask(rng), draw_offset(rng))
        changed = []

        def main(p):
            a, b = compared(p)
            if p.pid == cheater:
                orig = getattr(p.preprocessing, kind)
                calls = [0]

                def tampered(*args, **kwargs):
                    item = orig(*args, **kwargs)
                    calls[0] += 1
                    if calls[0] == 1:  # the first item of that kind (a triple: the first AND layer's)
                        tamper_item(item, choice)
                        changed.append(changes_a_value(item, choice))
                    return item
                setattr(p.preprocessing, kind, tampered)
            return p.reveal(b.relu() if kind == "bit_mul_triples" else a < b)

        class MayVanish:  # decided in the run: only a change of no value may go unseen
            def __bool__(self):
                return not any(changed)
        return main, cheater, MayVanish()

    misses, vanished = run_trials(make, lambda r: exactly(LT)(r) or exactly(RELU)(r), caught_by=None)
    assert misses == [] and vanished < TRIALS // 2
    print(f"bit material: {vanished} of {TRIALS} trials changed no value")


def test_a_a_reveal_of_tensors_and_bits_together():
    """party.reveal(tensor, bits) under spdz2k runs ONE MAC check after both openings (MacCheck
    .output; after the check of everything before them): a cheater that changes its share of the tensor's opening, the first of the two,
    must still make every honest party raise CheatingDetected, and no value is returned."""
    def make(rng, n):
        cheater, index, offset = int(rng.integers(n)), int(rng.integers(5)), draw_offset(rng)

        def main(p):
            a, _ = inputs(p)
            bits = p.input_bits([1, 2, 3] if p.pid == 0 else None, owner=0, n=3, width=8)
            if p.pid == cheater:  # after the check of the inputs (3 rounds): the reveal's opening of a
                one_shot(p.channel, "exchange", lambda arr: add128(arr, index, offset), skip=3)
            return p.reveal(a, bits)
        return main, cheater, False

    misses, _ = run_trials(make, lambda r: False, caught_by=None)
    assert misses == []


BIT_VALUES = [[0x5A, 0x01, 0xFF], [0x00, 0x80, 0x3C], [0x11, 0x22, 0x33]]  # party p's 3 bytes


def test_boolean_cd_a_bit_input_every_party_broadcasts():
    """Every party inputs bits at once (party.input_bits(values): one exchange of masked words,
    AuthBits.input_all); the cheater XORs a mask into one word of its masked words, sent to every
    peer while it keeps the honest ones (c), or to one victim only with 3 parties (d); then the
    parties reveal the XOR of everyone's bits."""
    def make(rng, n):
        cheater, word, mask = int(rng.integers(n)), int(rng.integers(8)), draw_mask(rng)
        victim = int(rng.choice([q for q in range(n) if q != cheater])) if n == 3 and rng.random() < 0.5 else None

        def main(p):
            if p.pid == cheater:
                orig = p.channel.send

                def send(to, arr, tag):
                    if arr.shape == (8, 1) and (victim is None or to == victim):  # the masked words
                        arr = np.array(arr, copy=True)
                        xor_word(arr, word, mask)
                    return orig(to, arr, tag)
                p.channel.send = send
            shares = p.input_bits(BIT_VALUES[p.pid], width=8, check=False)
            if p.pid == cheater:
                del p.channel.send
            total = shares[0]
            for s in shares[1:]:
                total = total ^ s
            return p.reveal(total)
        return main, cheater, False

    want = {n: np.bitwise_xor.reduce(np.array(BIT_VALUES[:n], dtype=np.uint64), axis=0) for n in (2, 3)}
    misses, vanished = run_trials(make, lambda r: any(np.array_equal(r, w) for w in want.values()))
    assert misses == [] and vanished == 0




@pytest.mark.parametrize("n", [2, 3, 4])
def test_honest_runs_never_raise(n):
    rng = np.random.default_rng(n)
    for _ in range(30):
        x = rng.uniform(-100, 100, 6)

        def main(p, x=x):
            a = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
            b = p.input(x if p.pid == p.n - 1 else None, owner=p.n - 1, shape=x.shape)
            return p.reveal((a * b).truncate() + a @ b, to=p.n - 1), p.reveal(a / 3)

        out = run_local(main, n, engine="spdz2k")
        qx = np.rint(x * 2**16) / 2**16
        np.testing.assert_allclose(out[-1][0], qx * qx + qx @ qx, atol=1e-3)
        np.testing.assert_allclose(out[0][1], qx / 3, atol=1e-4)
        assert all(o[0] is None for o in out[:-1])
    assert isinstance(mpc.CheatingDetected, type)


# ----------------------------------------------------------------------------- lockstep


def test_lockstep_openings_are_checked():
    """A sigmoid runs its comparisons and its polynomial in lockstep (one merged message per
    round: edaBit-masked ring openings, AND layers' bit words, truncating products' openings) and
    then one bit-times-value round. The cheater changes one word of the message it sends in a
    random one of those 9 rounds, by a random nonzero mask or offset: every honest party must
    raise CheatingDetected before the result is revealed, whichever protocol the word belongs to."""
    x = np.linspace(-12, 12, 7)

    def make(rng, n):
        cheater, rnd, mask, xor = int(rng.integers(n)), int(rng.integers(9)), draw_mask(rng), rng.random() < 0.5

        def change(arr):
            flat = arr.reshape(-1)
            i = int(rng.integers(flat.size))
            if xor:
                flat[i] ^= np.uint64(mask)
            else:
                flat[i] = np.uint64((int(flat[i]) + mask) % (1 << 64))

        def main(p):
            sx = p.input(x if p.pid == 0 else None, owner=0, shape=x.shape)
            if p.pid == cheater:
                one_shot(p.channel, "exchange", change, skip=rnd)
            return p.reveal(mpc.functions.sigmoid(sx))
        return main, cheater, False  # every opened word counts: no trial may vanish

    misses, vanished = run_trials(make, lambda r: False, parties=(2, 3))
    assert misses == [] and vanished == 0


def output_attack(cheater, owner, kind, to, index, offset, mask):
    """A session of the attack below: the cheater inputs 0, tampers with its part of the product's
    opening (in place), and every party reveals the product."""
    y = np.array([11, -7, 123456789, 0, 2**40], dtype=np.int64)

    def main(p):
        x = p.input(np.zeros(5, dtype=np.int64) if p.pid == cheater else None, owner=cheater, shape=(5,),
                    dtype=mpc.Int64())
        ys = p.input(y if p.pid == owner else None, owner=owner, shape=(5,), dtype=mpc.Int64())
        xb = p.input_bits(np.zeros(5, dtype=np.int64) if p.pid == cheater else None, owner=cheater, n=5, width=8)
        yb = p.input_bits(y % 128 if p.pid == owner else None, owner=owner, n=5, width=8)
        if p.pid == cheater:
            exchange = p.channel.exchange
            first = [True]

            def tampered(arr, *args, **kwargs):
                if first[0]:  # the product's opening: in place, so the cheater's own view agrees
                    first[0] = False
                    if kind == "bits":
                        xor_word(arr, index % arr.size, mask)
                    else:
                        add128_planar(arr, index, offset)
                return exchange(arr, *args, **kwargs)
            p.channel.exchange = tampered
        z = x * ys if kind != "bits" else None
        zb = xb & yb if kind != "ring" else None
        if kind == "both":
            return p.reveal(z, zb, to=to)
        return p.reveal(z if kind == "ring" else zb, to=to)
    return main


def test_no_output_leaves_before_the_openings_it_depends_on_are_checked():
    """The attack a check after the output opening allows: the cheater inputs x = 0 and tampers
    with its part of the opening of x * y (the Beaver d or e, ring or bits, changed in place so
    that its own combine agrees), which makes the product depend on the honest owner's y (for
    ring values x * y becomes a multiple of y); if the honest parties then sent their shares of
    the product, the cheater would learn y although the output x * y = 0 tells nothing of it. So
    every reveal (to all, to the cheater, to an honest party; tensors, bits, or both in one call;
    2, 3 or 4 parties) first checks every opening so far: every honest party must raise
    CheatingDetected from that check, named "before reveal", before it sends any share of the
    output."""
    rng = np.random.default_rng(20261207)
    misses = []
    for t in range(TRIALS):
        n = int(rng.choice([2, 3, 4]))
        cheater = int(rng.integers(n))
        owner = int(rng.choice([q for q in range(n) if q != cheater]))
        kind = ("ring", "bits", "both")[int(rng.integers(3))]
        to = (None, cheater, owner)[int(rng.integers(3))]
        main = output_attack(cheater, owner, kind, to, int(rng.integers(10)), draw_offset(rng) | 1, draw_mask(rng))
        out = run_local(main, n, engine="spdz2k", timeout=20, return_exceptions=True)
        for i, o in enumerate(out):
            if i != cheater and not (isinstance(o, CheatingDetected) and "(before reveal)" in str(o)):
                misses.append((t, n, kind, to, i, repr(o)[:120]))
    assert misses == []


def test_a_cheater_that_skips_the_check_before_a_reveal_gets_no_output_share():
    """The same attack by a cheater that does not run the check before the reveal's opening and
    sends its share of the output at once: the honest parties, in the check's first round, receive
    a message of the wrong shape and raise ProtocolError (out of step) without sending any share
    of the output, and the cheater never receives one (200 trials: ring, bits or both, reveal to
    all or to the cheater, 2-4 parties)."""
    rng = np.random.default_rng(20261208)
    misses = []
    for t in range(200):
        n = int(rng.choice([2, 3, 4]))
        cheater = int(rng.integers(n))
        owner = int(rng.choice([q for q in range(n) if q != cheater]))
        kind, to = ("ring", "bits", "both")[int(rng.integers(3))], (None, cheater)[int(rng.integers(2))]
        attack = output_attack(cheater, owner, kind, to, int(rng.integers(10)), draw_offset(rng) | 1, draw_mask(rng))
        received = []

        def main(p, attack=attack, cheater=cheater, received=received):
            if p.pid == cheater:
                started = []
                p.engine.mac.before_output = lambda what: started.append(what)  # no check: straight on
                recv = p.channel.recv

                def spy(frm, tag, **kwargs):  # what it receives once the reveal has started
                    arr = recv(frm, tag, **kwargs)
                    if started:
                        received.append(arr.shape)
                    return arr
                p.channel.recv = spy
            return attack(p)

        out = run_local(main, n, engine="spdz2k", timeout=20, return_exceptions=True)
        honest_ok = all(isinstance(o, (ProtocolError, CheatingDetected)) for i, o in enumerate(out) if i != cheater)
        # the honest parties send only their check's first message, which the cheater's receive of
        # an output share rejects (wrong shape): it must receive nothing at all
        if not honest_ok or received:
            misses.append((t, n, kind, to, [repr(o)[:80] for o in out], received))
    assert misses == []
