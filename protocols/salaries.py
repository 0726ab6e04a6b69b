"""Total, mean and maximum of the parties' salaries; nothing else is revealed.

    mpcrun -n 3 protocols/salaries.py protocols/data/salary_{pid}.txt

Each party reads its own salary from the file named on the command line (``{pid}`` is replaced
by the party id), shares it, and all parties learn only the total, the mean and the maximum.
Cost (semi2k, 3 parties): one agreement round for the inputs; the maximum is a tree of two
secure comparisons (10 rounds each: sign bit by a GMW circuit, then one daBit B2A round and one
product round; about 17 kB per party in all, with AND triples and daBits from the dealer); one
division round for the mean; one round to reveal the three values. Additions are local.
"""

import mpc


def read_salary(party: mpc.Party) -> float:
    # mpcrun substitutes {pid}; the replace makes the same argv work for in-process tests too
    # the run line, quoted in the error if the file argument is missing
    usage = "mpcrun -n 3 protocols/salaries.py protocols/data/salary_{pid}.txt"
    path = party.args(1, usage)[0].replace("{pid}", str(party.pid))
    with open(path) as fh:
        return float(fh.read().strip())


def main(party: mpc.Party):
    salary = read_salary(party)  # private: never leaves this process in the clear
    s = mpc.stack(party.input(salary))  # s[i] is party i's salary, secret-shared
    total, mean, top = party.reveal(s.sum(), s.mean(), s.max())  # the only values anyone learns
    print(f"party {party.pid}: total={total:.2f} mean={mean:.2f} max={top:.2f}")
    return float(total), float(mean), float(top)


if __name__ == "__main__":
    mpc.run(main, engine="semi2k", preprocessing="dealer")
