"""Total and mean of the parties' salaries; nothing else is revealed.

    mpcrun -n 3 protocols/salaries.py protocols/data/salary_{pid}.txt

Each party reads its own salary from the file named on the command line (``{pid}`` is replaced
by the party id), shares it, and all parties learn only the total and the mean.
Cost (semi2k): one agreement round for the inputs, one division round for the mean, one round
to reveal; additions are local.
"""

import mpc


def read_salary(party: mpc.Party) -> float:
    # mpcrun substitutes {pid}; the replace makes the same argv work for in-process tests too
    path = party.argv[0].replace("{pid}", str(party.pid))
    with open(path) as fh:
        return float(fh.read().strip())


def main(party: mpc.Party):
    salary = read_salary(party)  # private: never leaves this process in the clear
    s = mpc.stack(party.input(salary))  # s[i] is party i's salary, secret-shared
    total, mean = party.reveal(s.sum(), s.mean())  # the only values anyone learns
    print(f"party {party.pid}: total={total:.2f} mean={mean:.2f}")
    return float(total), float(mean)


if __name__ == "__main__":
    mpc.run(main, engine="semi2k", preprocessing="dealer")
