"""A first protocol, line by line: a sealed-bid auction that reveals the winner and nothing else.

    mpcrun -n 3 examples/first_protocol.py examples/data/bid_{pid}.txt

Each party holds a private bid (a number in its own file). Together they compute who bid
highest, the winning bid, the mean and the spread of the bids; every party learns those and,
privately, whether its own bid was above the mean. Nobody learns another party's bid.

How to read it: ``mpcrun -n 3`` starts three processes running this same script (and a
trusted dealer process for the preprocessing). Each process is one party; ``main`` gets its
:class:`mpc.Party`. Every party executes every line below, in the same order: an operation on
secret values is a joint protocol, so all parties must take part in it.
"""

import mpc


def main(party: mpc.Party):
    # --- 1. Private input --------------------------------------------------------------------
    # party.pid (0 .. party.n - 1) says which party this process is. mpcrun replaced {pid} in
    # the argument by that number, so party 1 opens bid_1.txt and no other file. (The replace
    # lets tests run the same main() in one process with mpc.testing.run_local.) party.args(1,
    # usage) is the script's arguments, at least one: without it every party stops at once with
    # a one-line ConfigError quoting the run line below, before anything is sent.
    usage = "mpcrun -n 3 examples/first_protocol.py examples/data/bid_{pid}.txt"
    path = party.args(1, usage)[0].replace("{pid}", str(party.pid))
    with open(path) as fh:
        my_bid = float(fh.read())  # a plain float: it never leaves this process in the clear

    # --- 2. Secret sharing: party.input --------------------------------------------------------
    # The all-parties form: EVERY party calls party.input with ITS OWN value (same shape on all
    # parties), and every party gets back the same list of party.n SecretTensors, entry i
    # holding party i's value. A SecretTensor is secret-shared: each party holds a random-looking
    # share, and no party can read the value alone. This sends no shares, only one small check
    # that all parties passed the same shape and type.
    bids = party.input(my_bid)
    # Index the list: bids[0] is party 0's bid, bids[party.n - 1] the last party's. Do NOT write
    # `a, b = party.input(my_bid)`: unpacking into two names works only with exactly 2 parties.
    # (When only party i has a value: party.input(value, owner=i) on party i and
    # party.input(owner=i, shape=...) on the others return ONE SecretTensor.)
    all_bids = mpc.stack(bids)  # one SecretTensor of shape (n,): all_bids[i] is party i's bid

    # --- 3. Arithmetic on secrets ----------------------------------------------------------------
    # Additions, subtractions and products with public numbers are local: no message is sent.
    mean = all_bids.mean()  # (bid_0 + ... + bid_{n-1}) / n, still secret
    # A product of two secrets needs one round of communication (a Beaver multiplication triple
    # from the dealer). Values are fixed-point numbers with 16 fractional bits by default.
    spread = ((all_bids - mean) ** 2).mean()  # the variance of the bids, still secret

    # --- 4. Comparisons --------------------------------------------------------------------------
    # Comparisons give secret 0/1 values; each is a boolean circuit on the shares (a few rounds).
    winner = all_bids.argmax()  # index of the highest bid (the first one on a tie)
    highest = all_bids.max()
    above = all_bids > mean  # above[i] is 1 when party i bid more than the mean

    # --- 5. Reveal ------------------------------------------------------------------------------
    # party.reveal opens secrets to every party: the ONLY way information leaves the computation.
    # Several values in one call are opened together, in one round.
    w, top, avg, var = party.reveal(winner, highest, mean, spread)

    # party.reveal(x, to=i) opens x to party i only: party i gets the value, the others None.
    # Every party makes every call (the others must send their shares to party i), so the loop
    # runs on all parties, and each learns only its own comparison.
    mine = None
    for i in range(party.n):
        result = party.reveal(above[i], to=i)
        if i == party.pid:
            mine = result

    verdict = "above" if mine else "not above"
    print(f"party {party.pid}: winner = party {int(w)} with {float(top):.2f}; mean bid {float(avg):.2f}, "
          f"variance {float(var):.2f}; my bid is {verdict} the mean")
    return int(w), float(top), float(avg), float(var), bool(mine)


if __name__ == "__main__":
    # engine="semi2k": additive secret sharing, semi-honest security; preprocessing="dealer": a
    # trusted dealer process (started by mpcrun) hands out the multiplication triples.
    mpc.run(main, engine="semi2k", preprocessing="dealer")
