"""Tests of tools/vmbench/sysbench.py against real sysbench 1.0.20 output.

The fixtures are in tests/fixtures/sysbench/ (README.md there says how each
was made).  Every number asserted below was copied from the fixture's text,
not computed by the parser; fileio's events_per_s is written as the sum of
the printed rates it is defined as.
"""

import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
from vmbench import sysbench
from vmbench.sysbench import SysbenchParseError

FIXTURES = REPO / "tests" / "fixtures" / "sysbench"
KiB = 1024
MiB = 1024 * 1024


def fixture(name):
    return (FIXTURES / name).read_text()


class FixtureReports(unittest.TestCase):
    """One test per report fixture: the figures every report has, then the test's own."""

    maxDiff = None

    def check(self, name, test, threads, total_time_s, events, events_per_s, latency, fairness):
        r = sysbench.parse_report(fixture(name))
        self.assertEqual(r["schema"], "vmbench.result/1")
        self.assertEqual(r["test"], test)
        self.assertEqual(r["threads"], threads)
        self.assertEqual(r["options"]["threads"], threads)
        self.assertEqual(r["total_time_s"], total_time_s)
        self.assertEqual(r["events"], events)
        self.assertIsInstance(r["events"], int)
        self.assertAlmostEqual(r["events_per_s"], events_per_s, places=6)
        lmin, lavg, lmax, pct, pct_value, lsum = latency
        want = {"min": lmin, "avg": lavg, "max": lmax, "sum": lsum}
        if pct is not None:
            want.update(percentile=pct, pct_value=pct_value)
            self.assertEqual(r["options"]["percentile"], pct)
        else:
            self.assertEqual(r["options"]["percentile"], 0)
        self.assertEqual(r["latency_ms"], want)
        ea, es, ta, ts = fairness
        self.assertEqual(r["fairness"], {"events_avg": ea, "events_stddev": es,
                                         "time_avg_s": ta, "time_stddev_s": ts})
        if test == "cpu":
            self.assertNotIn("metrics", r)
        return r

    def assertOptions(self, r, expected):
        for key, value in expected.items():
            self.assertIn(key, r["options"])
            self.assertEqual(r["options"][key], value, key)
            self.assertIs(type(r["options"][key]), type(value), key)

    def test_cpu_events100(self):
        r = self.check("cpu-events100.txt", "cpu", threads=1, total_time_s=0.0243,
                       events=100, events_per_s=3672.29,
                       latency=(0.22, 0.23, 0.32, 95, 0.27, 23.32),
                       fairness=(100.0000, 0.00, 0.0233, 0.00))
        self.assertOptions(r, {"cpu-max-prime": 10000})

    def test_cpu_histogram(self):
        r = self.check("cpu-histogram.txt", "cpu", threads=1, total_time_s=1.0031,
                       events=4372, events_per_s=4355.36,
                       latency=(0.22, 0.23, 0.35, 95, 0.26, 998.07),
                       fairness=(4372.0000, 0.00, 0.9981, 0.00))
        self.assertOptions(r, {"cpu-max-prime": 10000})

    def test_cpu_percentile0(self):
        r = self.check("cpu-percentile0.txt", "cpu", threads=1, total_time_s=1.0005,
                       events=4347, events_per_s=4330.11,
                       latency=(0.21, 0.23, 1.23, None, None, 999.73),
                       fairness=(4347.0000, 0.00, 0.9997, 0.00))
        self.assertOptions(r, {"cpu-max-prime": 10000})

    def test_cpu_percentile99(self):
        r = self.check("cpu-percentile99.txt", "cpu", threads=1, total_time_s=1.0006,
                       events=4372, events_per_s=4359.62,
                       latency=(0.22, 0.23, 0.47, 99, 0.28, 997.93),
                       fairness=(4372.0000, 0.00, 0.9979, 0.00))
        self.assertOptions(r, {"cpu-max-prime": 10000})

    def test_cpu_prime10000_t1(self):
        r = self.check("cpu-prime10000-t1.txt", "cpu", threads=1, total_time_s=1.0005,
                       events=4377, events_per_s=4365.11,
                       latency=(0.21, 0.23, 0.32, 95, 0.27, 997.62),
                       fairness=(4377.0000, 0.00, 0.9976, 0.00))
        self.assertOptions(r, {"cpu-max-prime": 10000})

    def test_cpu_prime10000_t2(self):
        r = self.check("cpu-prime10000-t2.txt", "cpu", threads=2, total_time_s=1.0003,
                       events=8608, events_per_s=8585.62,
                       latency=(0.21, 0.23, 1.04, 95, 0.27, 1996.20),
                       fairness=(4304.0000, 48.00, 0.9981, 0.00))
        self.assertOptions(r, {"cpu-max-prime": 10000})

    def test_cpu_prime20000_t4(self):
        r = self.check("cpu-prime20000-t4.txt", "cpu", threads=4, total_time_s=1.0009,
                       events=3234, events_per_s=3223.65,
                       latency=(0.57, 1.24, 8.62, 95, 4.65, 3994.43),
                       fairness=(808.5000, 8.02, 0.9986, 0.00))
        self.assertOptions(r, {"cpu-max-prime": 20000})

    def test_cpu_rate50_validate(self):
        r = self.check("cpu-rate50-validate.txt", "cpu", threads=1, total_time_s=1.0258,
                       events=48, events_per_s=46.64,
                       latency=(0.23, 0.27, 0.49, 95, 0.32, 13.05),
                       fairness=(48.0000, 0.00, 0.0131, 0.00))
        self.assertOptions(r, {"cpu-max-prime": 10000})

    def test_cpu_report_interval(self):
        r = self.check("cpu-report-interval.txt", "cpu", threads=1, total_time_s=2.0010,
                       events=8582, events_per_s=4287.21,
                       latency=(0.22, 0.23, 0.84, 95, 0.28, 1997.66),
                       fairness=(8582.0000, 0.00, 1.9977, 0.00))
        self.assertOptions(r, {"cpu-max-prime": 10000})

    def test_memory_local_t2(self):
        r = self.check("memory-local-t2.txt", "memory", threads=2, total_time_s=1.0003,
                       events=9408970, events_per_s=9384056.16,
                       latency=(0.00, 0.00, 4.05, 95, 0.00, 559.46),
                       fairness=(4704485.0000, 34059.00, 0.2797, 0.00))
        self.assertEqual(r["metrics"], {"mib_per_s": 9164.12, "mib_transferred": 9188.45})
        self.assertOptions(r, {"memory-block-size": 1024, "memory-total-size": 102400 * MiB,
                               "memory-oper": "write", "memory-scope": "local"})

    def test_memory_none_rnd_1K(self):
        r = self.check("memory-none-rnd-1K.txt", "memory", threads=1, total_time_s=1.0004,
                       events=4450436, events_per_s=4438266.82,
                       latency=(0.00, 0.00, 0.08, 95, 0.00, 582.08),
                       fairness=(4450436.0000, 0.00, 0.5821, 0.00))
        self.assertEqual(r["metrics"], {"mib_per_s": 0.0, "mib_transferred": 0.0})
        self.assertOptions(r, {"memory-block-size": 1024, "memory-total-size": 102400 * MiB,
                               "memory-oper": "none", "memory-scope": "global"})

    def test_memory_none_rnd_1M(self):
        r = self.check("memory-none-rnd-1M.txt", "memory", threads=1, total_time_s=1.0004,
                       events=8066, events_per_s=8044.57,
                       latency=(0.11, 0.12, 0.26, 95, 0.17, 995.27),
                       fairness=(8066.0000, 0.00, 0.9953, 0.00))
        self.assertEqual(r["metrics"], {"mib_per_s": 0.0, "mib_transferred": 0.0})
        self.assertOptions(r, {"memory-block-size": 1024 * KiB, "memory-total-size": 102400 * MiB,
                               "memory-oper": "none", "memory-scope": "global"})

    def test_memory_none_seq_1K(self):
        r = self.check("memory-none-seq-1K.txt", "memory", threads=1, total_time_s=1.0004,
                       events=7897289, events_per_s=7876390.89,
                       latency=(0.00, 0.00, 0.52, 95, 0.00, 270.97),
                       fairness=(7897289.0000, 0.00, 0.2710, 0.00))
        self.assertEqual(r["metrics"], {"mib_per_s": 0.0, "mib_transferred": 0.0})
        self.assertOptions(r, {"memory-block-size": 1024, "memory-total-size": 102400 * MiB,
                               "memory-oper": "none", "memory-scope": "global"})

    def test_memory_none_seq_1M(self):
        r = self.check("memory-none-seq-1M.txt", "memory", threads=1, total_time_s=0.4893,
                       events=102400, events_per_s=208040.07,
                       latency=(0.00, 0.00, 0.16, 95, 0.00, 476.94),
                       fairness=(102400.0000, 0.00, 0.4769, 0.00))
        self.assertEqual(r["metrics"], {"mib_per_s": 0.0, "mib_transferred": 0.0})
        self.assertOptions(r, {"memory-block-size": 1024 * KiB, "memory-total-size": 102400 * MiB,
                               "memory-oper": "none", "memory-scope": "global"})

    def test_memory_read_rnd_1K(self):
        r = self.check("memory-read-rnd-1K.txt", "memory", threads=1, total_time_s=1.0004,
                       events=3396455, events_per_s=3386886.08,
                       latency=(0.00, 0.00, 0.11, 95, 0.00, 674.91),
                       fairness=(3396455.0000, 0.00, 0.6749, 0.00))
        self.assertEqual(r["metrics"], {"mib_per_s": 3307.51, "mib_transferred": 3316.85})
        self.assertOptions(r, {"memory-block-size": 1024, "memory-total-size": 102400 * MiB,
                               "memory-oper": "read", "memory-scope": "global"})

    def test_memory_read_rnd_1M(self):
        r = self.check("memory-read-rnd-1M.txt", "memory", threads=1, total_time_s=1.0007,
                       events=3457, events_per_s=3446.68,
                       latency=(0.22, 0.29, 2.57, 95, 0.49, 997.03),
                       fairness=(3457.0000, 0.00, 0.9970, 0.00))
        self.assertEqual(r["metrics"], {"mib_per_s": 3446.68, "mib_transferred": 3457.00})
        self.assertOptions(r, {"memory-block-size": 1024 * KiB, "memory-total-size": 102400 * MiB,
                               "memory-oper": "read", "memory-scope": "global"})

    def test_memory_read_seq_1K(self):
        r = self.check("memory-read-seq-1K.txt", "memory", threads=1, total_time_s=1.0003,
                       events=7471698, events_per_s=7451997.52,
                       latency=(0.00, 0.00, 0.08, 95, 0.00, 291.43),
                       fairness=(7471698.0000, 0.00, 0.2914, 0.00))
        self.assertEqual(r["metrics"], {"mib_per_s": 7277.34, "mib_transferred": 7296.58})
        self.assertOptions(r, {"memory-block-size": 1024, "memory-total-size": 102400 * MiB,
                               "memory-oper": "read", "memory-scope": "global"})

    def test_memory_read_seq_1M(self):
        r = self.check("memory-read-seq-1M.txt", "memory", threads=1, total_time_s=1.0005,
                       events=68336, events_per_s=68142.42,
                       latency=(0.01, 0.01, 0.15, 95, 0.01, 986.85),
                       fairness=(68336.0000, 0.00, 0.9868, 0.00))
        self.assertEqual(r["metrics"], {"mib_per_s": 68142.42, "mib_transferred": 68336.00})
        self.assertOptions(r, {"memory-block-size": 1024 * KiB, "memory-total-size": 102400 * MiB,
                               "memory-oper": "read", "memory-scope": "global"})

    def test_memory_total_size_limit(self):
        r = self.check("memory-total-size-limit.txt", "memory", threads=1, total_time_s=0.0116,
                       events=256, events_per_s=18172.65,
                       latency=(0.03, 0.04, 0.11, 95, 0.04, 9.34),
                       fairness=(256.0000, 0.00, 0.0093, 0.00))
        self.assertEqual(r["metrics"], {"mib_per_s": 18172.65, "mib_transferred": 256.00})
        self.assertOptions(r, {"memory-block-size": 1024 * KiB, "memory-total-size": 256 * MiB,
                               "memory-oper": "write", "memory-scope": "global"})

    def test_memory_write_rnd_1K(self):
        r = self.check("memory-write-rnd-1K.txt", "memory", threads=1, total_time_s=1.0003,
                       events=3306217, events_per_s=3297846.50,
                       latency=(0.00, 0.00, 0.07, 95, 0.00, 661.86),
                       fairness=(3306217.0000, 0.00, 0.6619, 0.00))
        self.assertEqual(r["metrics"], {"mib_per_s": 3220.55, "mib_transferred": 3228.73})
        self.assertOptions(r, {"memory-block-size": 1024, "memory-total-size": 102400 * MiB,
                               "memory-oper": "write", "memory-scope": "global"})

    def test_memory_write_rnd_1M(self):
        r = self.check("memory-write-rnd-1M.txt", "memory", threads=1, total_time_s=1.0004,
                       events=5395, events_per_s=5380.58,
                       latency=(0.17, 0.18, 0.33, 95, 0.22, 996.78),
                       fairness=(5395.0000, 0.00, 0.9968, 0.00))
        self.assertEqual(r["metrics"], {"mib_per_s": 5380.58, "mib_transferred": 5395.00})
        self.assertOptions(r, {"memory-block-size": 1024 * KiB, "memory-total-size": 102400 * MiB,
                               "memory-oper": "write", "memory-scope": "global"})

    def test_memory_write_seq_1K(self):
        r = self.check("memory-write-seq-1K.txt", "memory", threads=1, total_time_s=1.0003,
                       events=6545573, events_per_s=6528699.45,
                       latency=(0.00, 0.00, 0.13, 95, 0.00, 381.96),
                       fairness=(6545573.0000, 0.00, 0.3820, 0.00))
        self.assertEqual(r["metrics"], {"mib_per_s": 6375.68, "mib_transferred": 6392.16})
        self.assertOptions(r, {"memory-block-size": 1024, "memory-total-size": 102400 * MiB,
                               "memory-oper": "write", "memory-scope": "global"})

    def test_memory_write_seq_1M(self):
        r = self.check("memory-write-seq-1M.txt", "memory", threads=1, total_time_s=1.0004,
                       events=26792, events_per_s=26720.89,
                       latency=(0.03, 0.04, 0.14, 95, 0.04, 993.22),
                       fairness=(26792.0000, 0.00, 0.9932, 0.00))
        self.assertEqual(r["metrics"], {"mib_per_s": 26720.89, "mib_transferred": 26792.00})
        self.assertOptions(r, {"memory-block-size": 1024 * KiB, "memory-total-size": 102400 * MiB,
                               "memory-oper": "write", "memory-scope": "global"})

    def test_fileio_rndrd_fsync0(self):
        r = self.check("fileio-rndrd-fsync0.txt", "fileio", threads=1, total_time_s=1.0004,
                       events=446992, events_per_s=445719.31 + 0.00 + 0.00,
                       latency=(0.00, 0.00, 1.09, 95, 0.00, 926.33),
                       fairness=(446992.0000, 0.00, 0.9263, 0.00))
        self.assertEqual(r["metrics"], {"reads_per_s": 445719.31, "writes_per_s": 0.00,
                                        "fsyncs_per_s": 0.00, "read_mib_per_s": 6964.36,
                                        "written_mib_per_s": 0.00})
        self.assertOptions(r, {"file-test-mode": "rndrd", "file-fsync-freq": 0,
                               "file-block-size": 16 * KiB})

    def test_fileio_rndrd_fsync100(self):
        r = self.check("fileio-rndrd-fsync100.txt", "fileio", threads=1, total_time_s=1.0004,
                       events=414467, events_per_s=413345.50 + 0.00 + 0.00,
                       latency=(0.00, 0.00, 0.12, 95, 0.00, 928.22),
                       fairness=(414467.0000, 0.00, 0.9282, 0.00))
        self.assertEqual(r["metrics"], {"reads_per_s": 413345.50, "writes_per_s": 0.00,
                                        "fsyncs_per_s": 0.00, "read_mib_per_s": 6458.52,
                                        "written_mib_per_s": 0.00})
        self.assertOptions(r, {"file-test-mode": "rndrd", "file-fsync-freq": 100,
                               "file-block-size": 16 * KiB})

    def test_fileio_rndrw_fsync0(self):
        r = self.check("fileio-rndrw-fsync0.txt", "fileio", threads=1, total_time_s=1.0120,
                       events=430390, events_per_s=254591.12 + 169727.41 + 3.94,
                       latency=(0.00, 0.00, 1.15, 95, 0.00, 927.29),
                       fairness=(430390.0000, 0.00, 0.9273, 0.00))
        self.assertEqual(r["metrics"], {"reads_per_s": 254591.12, "writes_per_s": 169727.41,
                                        "fsyncs_per_s": 3.94, "read_mib_per_s": 3977.99,
                                        "written_mib_per_s": 2651.99})
        self.assertOptions(r, {"file-test-mode": "rndrw", "file-fsync-freq": 0,
                               "file-block-size": 16 * KiB})

    def test_fileio_rndrw_fsync100(self):
        r = self.check("fileio-rndrw-fsync100.txt", "fileio", threads=1, total_time_s=1.0007,
                       events=82471, events_per_s=47442.31 + 31628.21 + 3165.81,
                       latency=(0.00, 0.01, 1.40, 95, 0.00, 982.92),
                       fairness=(82471.0000, 0.00, 0.9829, 0.00))
        self.assertEqual(r["metrics"], {"reads_per_s": 47442.31, "writes_per_s": 31628.21,
                                        "fsyncs_per_s": 3165.81, "read_mib_per_s": 741.29,
                                        "written_mib_per_s": 494.19})
        self.assertOptions(r, {"file-test-mode": "rndrw", "file-fsync-freq": 100,
                               "file-block-size": 16 * KiB})

    def test_fileio_rndrw_options(self):
        r = self.check("fileio-rndrw-options.txt", "fileio", threads=1, total_time_s=0.1716,
                       events=2000, events_per_s=7818.44 + 3679.26,
                       latency=(0.00, 0.08, 1.00, 99, 0.42, 168.90),
                       fairness=(2000.0000, 0.00, 0.1689, 0.00))
        self.assertEqual(r["metrics"], {"reads_per_s": 7818.44, "writes_per_s": 3679.26,
                                        "fsyncs_per_s": 3679.26, "read_mib_per_s": 30.54,
                                        "written_mib_per_s": 14.37})
        self.assertOptions(r, {"file-test-mode": "rndrw", "file-fsync-freq": 0,
                               "file-block-size": 4 * KiB})

    def test_fileio_rndwr_fsync0(self):
        r = self.check("fileio-rndwr-fsync0.txt", "fileio", threads=1, total_time_s=1.0116,
                       events=449471, events_per_s=0.00 + 443290.35 + 3.94,
                       latency=(0.00, 0.00, 0.23, 95, 0.00, 921.32),
                       fairness=(449471.0000, 0.00, 0.9213, 0.00))
        self.assertEqual(r["metrics"], {"reads_per_s": 0.00, "writes_per_s": 443290.35,
                                        "fsyncs_per_s": 3.94, "read_mib_per_s": 0.00,
                                        "written_mib_per_s": 6926.41})
        self.assertOptions(r, {"file-test-mode": "rndwr", "file-fsync-freq": 0,
                               "file-block-size": 16 * KiB})

    def test_fileio_rndwr_fsync100(self):
        r = self.check("fileio-rndwr-fsync100.txt", "fileio", threads=1, total_time_s=1.0015,
                       events=49918, events_per_s=0.00 + 47825.33 + 1915.01,
                       latency=(0.00, 0.02, 2.10, 95, 0.00, 989.74),
                       fairness=(49918.0000, 0.00, 0.9897, 0.00))
        self.assertEqual(r["metrics"], {"reads_per_s": 0.00, "writes_per_s": 47825.33,
                                        "fsyncs_per_s": 1915.01, "read_mib_per_s": 0.00,
                                        "written_mib_per_s": 747.27})
        self.assertOptions(r, {"file-test-mode": "rndwr", "file-fsync-freq": 100,
                               "file-block-size": 16 * KiB})

    def test_fileio_rndwr_mmap(self):
        r = self.check("fileio-rndwr-mmap.txt", "fileio", threads=1, total_time_s=1.0033,
                       events=11302, events_per_s=0.00 + 10808.43 + 433.53,
                       latency=(0.00, 0.09, 2.57, 95, 0.10, 996.12),
                       fairness=(11302.0000, 0.00, 0.9961, 0.00))
        self.assertEqual(r["metrics"], {"reads_per_s": 0.00, "writes_per_s": 10808.43,
                                        "fsyncs_per_s": 433.53, "read_mib_per_s": 0.00,
                                        "written_mib_per_s": 168.88})
        self.assertOptions(r, {"file-test-mode": "rndwr", "file-fsync-freq": 100,
                               "file-block-size": 16 * KiB})

    def test_fileio_seqrd_fsync0(self):
        r = self.check("fileio-seqrd-fsync0.txt", "fileio", threads=1, total_time_s=1.0004,
                       events=435096, events_per_s=433865.48 + 0.00 + 0.00,
                       latency=(0.00, 0.00, 0.23, 95, 0.00, 930.34),
                       fairness=(435096.0000, 0.00, 0.9303, 0.00))
        self.assertEqual(r["metrics"], {"reads_per_s": 433865.48, "writes_per_s": 0.00,
                                        "fsyncs_per_s": 0.00, "read_mib_per_s": 6779.15,
                                        "written_mib_per_s": 0.00})
        self.assertOptions(r, {"file-test-mode": "seqrd", "file-fsync-freq": 0,
                               "file-block-size": 16 * KiB})

    def test_fileio_seqrd_fsync100(self):
        r = self.check("fileio-seqrd-fsync100.txt", "fileio", threads=1, total_time_s=1.0004,
                       events=456568, events_per_s=455322.19 + 0.00 + 0.00,
                       latency=(0.00, 0.00, 0.57, 95, 0.00, 927.52),
                       fairness=(456568.0000, 0.00, 0.9275, 0.00))
        self.assertEqual(r["metrics"], {"reads_per_s": 455322.19, "writes_per_s": 0.00,
                                        "fsyncs_per_s": 0.00, "read_mib_per_s": 7114.41,
                                        "written_mib_per_s": 0.00})
        self.assertOptions(r, {"file-test-mode": "seqrd", "file-fsync-freq": 100,
                               "file-block-size": 16 * KiB})

    def test_fileio_seqrewr_direct_t2(self):
        r = self.check("fileio-seqrewr-direct-t2.txt", "fileio", threads=2, total_time_s=1.0010,
                       events=22299, events_per_s=0.00 + 21365.71 + 860.89,
                       latency=(0.02, 0.09, 1.15, 95, 0.15, 1993.65),
                       fairness=(11149.5000, 18.50, 0.9968, 0.00))
        self.assertEqual(r["metrics"], {"reads_per_s": 0.00, "writes_per_s": 21365.71,
                                        "fsyncs_per_s": 860.89, "read_mib_per_s": 0.00,
                                        "written_mib_per_s": 333.84})
        self.assertOptions(r, {"file-test-mode": "seqrewr", "file-fsync-freq": 100,
                               "file-block-size": 16 * KiB})

    def test_fileio_seqrewr_fsync0(self):
        r = self.check("fileio-seqrewr-fsync0.txt", "fileio", threads=1, total_time_s=1.0120,
                       events=441423, events_per_s=0.00 + 435175.60 + 3.94,
                       latency=(0.00, 0.00, 0.37, 95, 0.00, 924.26),
                       fairness=(441423.0000, 0.00, 0.9243, 0.00))
        self.assertEqual(r["metrics"], {"reads_per_s": 0.00, "writes_per_s": 435175.60,
                                        "fsyncs_per_s": 3.94, "read_mib_per_s": 0.00,
                                        "written_mib_per_s": 6799.62})
        self.assertOptions(r, {"file-test-mode": "seqrewr", "file-fsync-freq": 0,
                               "file-block-size": 16 * KiB})

    def test_fileio_seqrewr_fsync100(self):
        r = self.check("fileio-seqrewr-fsync100.txt", "fileio", threads=1, total_time_s=1.0007,
                       events=55846, events_per_s=0.00 + 53535.28 + 2143.41,
                       latency=(0.00, 0.02, 8.39, 95, 0.00, 987.04),
                       fairness=(55846.0000, 0.00, 0.9870, 0.00))
        self.assertEqual(r["metrics"], {"reads_per_s": 0.00, "writes_per_s": 53535.28,
                                        "fsyncs_per_s": 2143.41, "read_mib_per_s": 0.00,
                                        "written_mib_per_s": 836.49})
        self.assertOptions(r, {"file-test-mode": "seqrewr", "file-fsync-freq": 100,
                               "file-block-size": 16 * KiB})

    def test_fileio_seqwr_fsync0(self):
        r = self.check("fileio-seqwr-fsync0.txt", "fileio", threads=1, total_time_s=1.0162,
                       events=419585, events_per_s=0.00 + 411999.63 + 3.93,
                       latency=(0.00, 0.00, 0.14, 95, 0.00, 929.33),
                       fairness=(419585.0000, 0.00, 0.9293, 0.00))
        self.assertEqual(r["metrics"], {"reads_per_s": 0.00, "writes_per_s": 411999.63,
                                        "fsyncs_per_s": 3.93, "read_mib_per_s": 0.00,
                                        "written_mib_per_s": 6437.49})
        self.assertOptions(r, {"file-test-mode": "seqwr", "file-fsync-freq": 0,
                               "file-block-size": 16 * KiB})

    def test_fileio_seqwr_fsync100(self):
        r = self.check("fileio-seqwr-fsync100.txt", "fileio", threads=1, total_time_s=1.0013,
                       events=61749, events_per_s=0.00 + 59164.38 + 2367.49,
                       latency=(0.00, 0.02, 1.70, 95, 0.00, 986.22),
                       fairness=(61749.0000, 0.00, 0.9862, 0.00))
        self.assertEqual(r["metrics"], {"reads_per_s": 0.00, "writes_per_s": 59164.38,
                                        "fsyncs_per_s": 2367.49, "read_mib_per_s": 0.00,
                                        "written_mib_per_s": 924.44})
        self.assertOptions(r, {"file-test-mode": "seqwr", "file-fsync-freq": 100,
                               "file-block-size": 16 * KiB})

    def test_guest_cpu_histogram(self):
        r = self.check("guest-cpu-histogram.txt", "cpu", threads=1, total_time_s=0.2476,
                       events=200, events_per_s=807.67,
                       latency=(1.15, 1.24, 3.39, 95, 1.30, 247.15),
                       fairness=(200.0000, 0.00, 0.2471, 0.00))
        self.assertOptions(r, {"cpu-max-prime": 10000})

    def test_guest_cpu_percentile0(self):
        r = self.check("guest-cpu-percentile0.txt", "cpu", threads=1, total_time_s=1.0005,
                       events=837, events_per_s=836.55,
                       latency=(1.12, 1.19, 2.99, None, None, 999.94),
                       fairness=(837.0000, 0.00, 0.9999, 0.00))
        self.assertOptions(r, {"cpu-max-prime": 10000})

    def test_guest_cpu_t2(self):
        r = self.check("guest-cpu-t2.txt", "cpu", threads=2, total_time_s=1.0013,
                       events=1690, events_per_s=1687.76,
                       latency=(1.11, 1.18, 3.35, 95, 1.25, 2000.16),
                       fairness=(845.0000, 16.00, 1.0001, 0.00))
        self.assertOptions(r, {"cpu-max-prime": 10000})

    def test_guest_memory_none(self):
        r = self.check("guest-memory-none.txt", "memory", threads=1, total_time_s=1.0004,
                       events=4225623, events_per_s=4224004.39,
                       latency=(0.00, 0.00, 0.14, 95, 0.00, 537.48),
                       fairness=(4225623.0000, 0.00, 0.5375, 0.00))
        self.assertEqual(r["metrics"], {"mib_per_s": 0.0, "mib_transferred": 0.0})
        self.assertOptions(r, {"memory-block-size": 1024, "memory-total-size": 102400 * MiB,
                               "memory-oper": "none", "memory-scope": "global"})

    def test_guest_memory_write_1M(self):
        r = self.check("guest-memory-write-1M.txt", "memory", threads=1, total_time_s=1.0004,
                       events=4360, events_per_s=4358.17,
                       latency=(0.21, 0.23, 0.94, 95, 0.26, 998.36),
                       fairness=(4360.0000, 0.00, 0.9984, 0.00))
        self.assertEqual(r["metrics"], {"mib_per_s": 4358.17, "mib_transferred": 4360.00})
        self.assertOptions(r, {"memory-block-size": 1024 * KiB, "memory-total-size": 102400 * MiB,
                               "memory-oper": "write", "memory-scope": "global"})



class Details(unittest.TestCase):
    """What particular fixtures show beyond the common figures."""

    maxDiff = None

    def test_histogram(self):
        r = sysbench.parse_report(fixture("cpu-histogram.txt"))
        h = r["histogram"]
        self.assertEqual(len(h), 21)
        self.assertEqual(h[0], (0.214, 361))
        self.assertEqual(h[1], (0.218, 2710))
        self.assertEqual(h[2], (0.222, 14))
        self.assertEqual(h[-2], (0.330, 1))
        self.assertEqual(h[-1], (0.354, 1))
        self.assertEqual(sum(count for _, count in h), 4372)   # = total number of events
        self.assertIs(r["options"]["histogram"], True)

    def test_no_histogram_unless_printed(self):
        r = sysbench.parse_report(fixture("cpu-prime10000-t1.txt"))
        self.assertNotIn("histogram", r)
        self.assertIs(r["options"]["histogram"], False)

    def test_options_of_the_header(self):
        r = sysbench.parse_report(fixture("cpu-rate50-validate.txt"))
        self.assertEqual(r["options"], {"threads": 1, "rate": 50, "validate": True, "rand-seed": 0,
                                        "percentile": 95, "cpu-max-prime": 10000,
                                        "histogram": False})
        r = sysbench.parse_report(fixture("cpu-report-interval.txt"))
        self.assertEqual(r["options"]["report-interval"], 1)
        self.assertNotIn("rate", r["options"])

    def test_fileio_options_all_printed_settings(self):
        r = sysbench.parse_report(fixture("fileio-rndrw-options.txt"))
        self.assertEqual(r["options"], {
            "threads": 1, "rand-seed": 42, "percentile": 99, "histogram": False,
            "file-extra-flags": "dsync", "file-num": 4, "file-total-size": 16 * MiB,
            "file-block-size": 4 * KiB, "file-merged-requests": 4, "events": 2000,
            "file-rw-ratio": 2.0, "file-fsync-freq": 0, "file-fsync-all": True,
            "file-fsync-end": False, "file-io-mode": "async", "file-test-mode": "rndrw"})

    def test_fileio_default_options(self):
        r = sysbench.parse_report(fixture("fileio-rndrw-fsync100.txt"))
        self.assertEqual(r["options"], {
            "threads": 1, "rand-seed": 0, "percentile": 95, "histogram": False,
            "file-extra-flags": "", "file-num": 4, "file-total-size": 16 * MiB,
            "file-block-size": 16 * KiB, "events": 0, "file-rw-ratio": 1.5,
            "file-fsync-freq": 100, "file-fsync-all": False, "file-fsync-end": True,
            "file-io-mode": "sync", "file-test-mode": "rndrw"})
        # Sequential modes print neither the request count nor the ratio.
        r = sysbench.parse_report(fixture("fileio-seqwr-fsync100.txt"))
        self.assertNotIn("events", r["options"])
        self.assertNotIn("file-rw-ratio", r["options"])

    def test_fileio_extra_flags_and_io_modes(self):
        r = sysbench.parse_report(fixture("fileio-seqrewr-direct-t2.txt"))
        self.assertEqual(r["options"]["file-extra-flags"], "direct")     # printed "directio"
        self.assertEqual(r["options"]["file-io-mode"], "sync")
        r = sysbench.parse_report(fixture("fileio-rndwr-mmap.txt"))
        self.assertEqual(r["options"]["file-io-mode"], "mmap")            # "fast mmaped"

    def test_memory_access_mode_is_not_printed(self):
        for name in ("memory-read-rnd-1K.txt", "memory-read-seq-1K.txt"):
            self.assertNotIn("memory-access-mode", sysbench.parse_report(fixture(name))["options"])

    def test_memory_none_has_no_transfer_line(self):
        text = fixture("memory-none-seq-1K.txt")
        self.assertNotIn("MiB transferred", text)
        r = sysbench.parse_report(text)
        self.assertEqual(r["metrics"], {"mib_per_s": 0.0, "mib_transferred": 0.0})

    def test_memory_run_ended_by_total_size(self):
        # 256 blocks of 1 MiB, in much less than --time=10.
        r = sysbench.parse_report(fixture("memory-total-size-limit.txt"))
        self.assertEqual(r["events"], 256)
        self.assertEqual(r["options"]["memory-total-size"], 256 * MiB)
        self.assertLess(r["total_time_s"], 1)
        self.assertEqual(r["metrics"]["mib_transferred"], 256.00)

    def test_prepare(self):
        p = sysbench.parse_prepare(fixture("fileio-prepare.txt"))
        self.assertEqual(p, {"test": "fileio", "command": "prepare",
                             "options": {"file-num": 4, "file-total-size": 16 * MiB,
                                         "file-extra-flags": ""},
                             "file_size_bytes": 4096 * KiB, "files_created": 4,
                             "bytes_written": 16777216, "time_s": 0.02, "mib_per_s": 788.68})

    def test_prepare_output_is_not_a_report(self):
        with self.assertRaisesRegex(SysbenchParseError, "General statistics"):
            sysbench.parse_report(fixture("fileio-prepare.txt"))

    def test_parse_size(self):
        self.assertEqual(sysbench.parse_size("16KiB"), 16 * KiB)
        self.assertEqual(sysbench.parse_size("4096Kb"), 4 * MiB)
        self.assertEqual(sysbench.parse_size("102400MiB"), 100 * 1024 * MiB)
        self.assertEqual(sysbench.parse_size("512"), 512)
        with self.assertRaises(SysbenchParseError):
            sysbench.parse_size("12 parsecs")


class Tolerance(unittest.TestCase):
    """Line endings, noise around the report."""

    def test_crlf(self):
        text = fixture("memory-write-seq-1K.txt")
        self.assertEqual(sysbench.parse_report(text.replace("\n", "\r\n")),
                         sysbench.parse_report(text))

    def test_trailing_junk(self):
        text = fixture("cpu-prime10000-t2.txt")
        noisy = text + "VMBENCH-RESULT {}\nqemu-system-x86_64: terminating on signal 15\n\x00\x1b[0m"
        self.assertEqual(sysbench.parse_report(noisy), sysbench.parse_report(text))

    def test_intermediate_reports(self):
        text = fixture("cpu-report-interval.txt")
        self.assertIn("[ 1s ] thds: 1 eps: 4267.29", text)
        self.assertEqual(sysbench.parse_report(text)["events"], 8582)

    def test_no_version_banner(self):
        # The guest prints its own banner; the report must not depend on sysbench's.
        text = fixture("cpu-prime10000-t1.txt").split("\n", 1)[1]
        self.assertEqual(sysbench.parse_report(text)["events"], 4377)


class Refusals(unittest.TestCase):
    """Anything but one complete report raises SysbenchParseError saying why."""

    def test_error_output_stdout(self):
        with self.assertRaisesRegex(SysbenchParseError,
                                    "FATAL: Invalid value for memory-block-size: 3"):
            sysbench.parse_report(fixture("memory-bad-block-size.txt"))
        with self.assertRaisesRegex(SysbenchParseError,
                                    "FATAL: Missing required argument: --file-test-mode"):
            sysbench.parse_report(fixture("fileio-no-mode.txt"))

    def test_error_output_stderr_is_empty(self):
        # sysbench 1.0.20 writes FATAL on stdout: its stderr had nothing.
        for name in ("memory-bad-block-size.stderr.txt", "fileio-no-mode.stderr.txt",
                     "fileio-mmap-direct-error.stderr.txt"):
            self.assertEqual(fixture(name), "")
            with self.assertRaisesRegex(SysbenchParseError, "empty"):
                sysbench.parse_report(fixture(name))

    def test_error_after_the_header(self):
        with self.assertRaisesRegex(SysbenchParseError, "FATAL: Unknown extra flags value: 5"):
            sysbench.parse_report(fixture("fileio-mmap-direct-error.txt"))

    def test_guest_error(self):
        with self.assertRaisesRegex(SysbenchParseError,
                                    "FATAL: --histogram cannot be used with --percentile=0"):
            sysbench.parse_report(fixture("guest-error-histogram-percentile0.txt"))

    def test_cleanup_output(self):
        with self.assertRaisesRegex(SysbenchParseError, "no 'General statistics:' section"):
            sysbench.parse_report(fixture("fileio-cleanup.txt"))

    def test_empty(self):
        for text in ("", "\n\n", "  \r\n"):
            with self.assertRaisesRegex(SysbenchParseError, "empty"):
                sysbench.parse_report(text)
            with self.assertRaisesRegex(SysbenchParseError, "empty"):
                sysbench.parse_prepare(text)

    def test_garbage(self):
        for text in ("hello world\n", "\x00\x01\x02", "General statistics\n" * 3,
                     fixture("fileio-no-mode.txt").replace("FATAL", "fatal")):
            with self.assertRaises(SysbenchParseError):
                sysbench.parse_report(text)
        with self.assertRaises(TypeError):
            sysbench.parse_report(b"bytes are not text")

    def test_truncated_everywhere(self):
        # Cut the report after every line: nothing but the whole parses.
        for name in ("cpu-prime10000-t1.txt", "memory-write-seq-1K.txt",
                     "fileio-rndrw-fsync100.txt"):
            text = fixture(name)
            lines = text.split("\n")
            last = max(i for i, line in enumerate(lines) if line.strip())
            for n in range(last + 1):
                with self.subTest(name=name, lines=n), self.assertRaises(SysbenchParseError):
                    sysbench.parse_report("\n".join(lines[:n]) + "\n")
            sysbench.parse_report("\n".join(lines[:last + 1]))

    def test_truncated_names_the_section(self):
        text = fixture("cpu-prime10000-t1.txt")
        cut = text[:text.index("Threads fairness:")]
        with self.assertRaisesRegex(SysbenchParseError, r"no 'Threads fairness:' section"):
            sysbench.parse_report(cut)
        cut = text[:text.index("         sum:")]
        with self.assertRaisesRegex(SysbenchParseError, r"no 'sum:' in Latency \(ms\)"):
            sysbench.parse_report(cut)
        cut = text.replace("    events per second:  4365.11\n", "")
        with self.assertRaisesRegex(SysbenchParseError, "events per second"):
            sysbench.parse_report(cut)

    def test_missing_transfer_line(self):
        text = fixture("memory-write-seq-1K.txt")
        cut = "\n".join(line for line in text.split("\n") if "MiB transferred" not in line)
        with self.assertRaisesRegex(SysbenchParseError, "MiB transferred"):
            sysbench.parse_report(cut)

    def test_inconsistent_memory_counts(self):
        text = fixture("memory-total-size-limit.txt").replace("Total operations: 256 ",
                                                              "Total operations: 255 ")
        with self.assertRaisesRegex(SysbenchParseError, "inconsistent"):
            sysbench.parse_report(text)

    def test_two_reports(self):
        text = fixture("cpu-prime10000-t1.txt") + fixture("cpu-prime10000-t2.txt")
        with self.assertRaisesRegex(SysbenchParseError, "2 sysbench reports"):
            sysbench.parse_report(text)

    def test_prepare_error(self):
        with self.assertRaisesRegex(SysbenchParseError, "FATAL"):
            sysbench.parse_prepare(fixture("memory-bad-block-size.txt"))
        with self.assertRaisesRegex(SysbenchParseError, "bytes written"):
            sysbench.parse_prepare(fixture("fileio-prepare.txt").rsplit("16777216", 1)[0])


class EveryFixtureIsTested(unittest.TestCase):
    def test_every_fixture_named_in_a_test(self):
        source = Path(__file__).read_text() + (Path(__file__).parent / "test_results.py").read_text()
        for path in sorted(FIXTURES.glob("*.txt")):
            self.assertIn(f'"{path.name}"', source.replace("'", '"'), path.name)

    def test_readme_lists_every_fixture(self):
        readme = (FIXTURES / "README.md").read_text()
        for path in sorted(FIXTURES.glob("*.txt")):
            if not path.name.endswith(".stderr.txt"):
                self.assertIn(f"`{path.name}`", readme)


if __name__ == "__main__":
    unittest.main()
