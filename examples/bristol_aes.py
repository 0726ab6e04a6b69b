"""AES-128 under MPC with a Bristol Fashion circuit: party 0's key, party 1's block; only party 1 sees the ciphertext.

    mpcrun -n 2 examples/bristol_aes.py examples/data/aes_key.txt examples/data/aes_plaintext.txt

Party 0 holds an AES-128 key (32 hex digits in the first file), party 1 a 16-byte plaintext
block (32 hex digits in the second file). Together they encrypt the block: party 1 learns
AES_key(block) and nothing about the key; party 0 learns nothing at all. (This is the core of
an oblivious pseudo-random function: a server holding a key evaluates it on a client's input
without seeing it.) With more parties (``-n 3``...) the others help compute and learn nothing.
The data files hold the FIPS-197 Appendix C.1 example, so party 1 prints
69c4e0d86a7b0430d8cdb78070b4c55a.

The circuit is Tessera's own ``aes128`` (``mpc.bristol.load("aes128")``; key expansion and 10
rounds, 7200 AND gates, AND depth 40); a Bristol Fashion file from elsewhere loads the same
way with ``mpc.bristol.load("path/to/circuit.txt")``. Values go in and out as ``bytes``, read
big-endian: the hex string of a key is the key (see ``mpc.bristol``'s wire and byte order).

Cost (GMW engine, semi-honest): 40 rounds (the AND depth) and 2 bits per AND gate to each
peer, about 115 kB per party for one block; up to 64 blocks cost the same, since 64 elements
share a word. AND triples come from the dealer. With ``mpcrun --engine spdz2k`` the same run is
actively secure (authenticated bits: the same rounds and bytes, plus the MAC check before the
ciphertext is revealed); adding ``--preprocessing ot`` drops the dealer too (the parties make
the AND triples of the block's one live lane by OT: about 4 s and 416 MB per party).
"""

import mpc


def read_hex(path: str, what: str) -> bytes:
    with open(path) as fh:
        value = bytes.fromhex(fh.read().strip())
    if len(value) != 16:
        raise mpc.ConfigError(f"{what}: expected 32 hex digits (16 bytes) in {path}, got {len(value)} bytes")
    return value


def main(party: mpc.Party):
    if party.n < 2:
        raise mpc.ConfigError("bristol_aes: needs at least 2 parties (mpcrun -n 2)")
    aes = mpc.bristol.load("aes128")  # inputs: key (128 bits), block (128 bits); output: ciphertext

    # Each owner reads only its own file; the other parties pass None and the element count n.
    key_file, block_file, *_ = party.args(2, "mpcrun -n 2 examples/bristol_aes.py KEY_FILE PLAINTEXT_FILE")
    key = read_hex(key_file, "key") if party.pid == 0 else None
    block = read_hex(block_file, "plaintext") if party.pid == 1 else None
    # input_bits shares integers or bytes as XOR-shared bits (SecretBits) of any width.
    secret_key = party.input_bits(key, owner=0, n=1, width=128)
    secret_block = party.input_bits(block, owner=1, n=1, width=128)

    # The circuit runs on the shares: one SecretBits per output value (here one, 128 bits wide).
    with party.section("aes"):
        (ciphertext,) = mpc.bristol.evaluate(aes, secret_key, secret_block)

    # Open the ciphertext to party 1 only: it gets a list with one 16-byte value, the others None.
    opened = ciphertext.reveal(to=1, as_bytes=True)
    cost = party.stats()["sections"]["aes"]
    if party.pid == 1:
        print(f"party 1: ciphertext = {opened[0].hex()}  ({aes.and_count} AND gates, "
              f"{cost['rounds']} rounds, {cost['bytes_sent']} bytes sent)")
        return opened[0]
    print(f"party {party.pid}: helped encrypt; the ciphertext went to party 1 only")
    return None


if __name__ == "__main__":
    mpc.run(main, engine="gmw", preprocessing="dealer")
