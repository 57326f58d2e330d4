"""scikit-learn's side of the loader benchmark: times load_svmlight_file on FILE.

    /usr/bin/python3 bench/load/sklearn_load.py FILE REPEATS

Prints one JSON line: the best and median seconds of REPEATS loads, rows, nnz.
"""
import json
import sys
import time

from sklearn.datasets import load_svmlight_file


def main():
    path, repeats = sys.argv[1], int(sys.argv[2])
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        x, y = load_svmlight_file(path)
        times.append(time.perf_counter() - t0)
    times.sort()
    print(json.dumps({"best_s": times[0], "median_s": times[len(times) // 2],
                      "rows": x.shape[0], "nnz": int(x.nnz)}))


if __name__ == "__main__":
    main()
