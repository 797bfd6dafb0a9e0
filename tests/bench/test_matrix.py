"""The comparison matrix: presets, --quick, matrix files, cases, run flags."""

import json
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
from vmbench import matrix, runner
from vmbench.platforms.base import Case


class Presets(unittest.TestCase):
    def test_vm_vs_container_is_the_study(self):
        spec = matrix.load("vm-vs-container")
        self.assertEqual(spec["shapes"], [[1, 2048], [2, 2048], [4, 4096]])
        cases = matrix.cases(spec)
        self.assertEqual(len(cases), 3 * (3 + 2))
        cpu = [c for c in cases if c.test == "cpu"]
        primes = sorted({c.option("cpu-max-prime") for c in cpu})
        self.assertEqual(primes, [5000, 10000, 20000])
        # sysbench gets as many threads as the machine has vCPUs ...
        self.assertTrue(all(c.option("threads") == c.vcpus for c in cpu))
        self.assertTrue(all(c.option("time") == 10 for c in cases))
        # ... except fileio rndrw 2G and 4G: 16 threads, on a raw disk.
        fileio = [c for c in cases if c.test == "fileio"]
        self.assertEqual(sorted({(c.option("file-test-mode"), c.option("file-total-size"),
                                  c.option("threads"), c.option("disk-format"))
                                 for c in fileio}),
                         [("rndrw", "2G", 16, "raw"), ("rndrw", "4G", 16, "raw")])

    def test_smp_mem_grid_is_the_study(self):
        spec = matrix.load("smp-mem-grid")
        self.assertEqual(sorted(map(tuple, spec["shapes"])),
                         [(1, 1024), (1, 2048), (2, 1024), (2, 2048)])
        cases = matrix.cases(spec)
        self.assertEqual(len(cases), 4 * (2 + 2 + 2 * 2))
        mem = [c for c in cases if c.test == "memory"]
        self.assertEqual({(c.option("memory-block-size"), c.option("memory-total-size"))
                          for c in mem}, {("8M", "4G"), ("4M", "2G")})
        # fileio rndrw 2G and seqrewr 1G, each on raw and qcow2.
        fileio = [c for c in cases if c.test == "fileio" and c.vcpus == 2 and c.mem_mib == 1024]
        self.assertEqual(sorted((c.option("file-test-mode"), c.option("file-total-size"),
                                 c.disk_format(), c.option("threads")) for c in fileio),
                         [("rndrw", "2G", "qcow2", 2), ("rndrw", "2G", "raw", 2),
                          ("seqrewr", "1G", "qcow2", 2), ("seqrewr", "1G", "raw", 2)])

    def test_isolation_is_three_scenarios_of_cpu_and_jitter(self):
        spec = matrix.load("isolation")
        self.assertEqual(spec["platforms"], ["vmm", "vmm-pinned", "vmm-isolated"])
        cases = matrix.cases(spec)
        self.assertEqual([(c.test, c.vcpus, c.option("threads")) for c in cases],
                         [("cpu", 1, 1), ("jitter", 1, 1)])
        self.assertEqual(spec["views"], [{"view": "isolation", "latency": "cpu",
                                          "jitter": "jitter"}])
        quick = matrix.cases(matrix.quick(spec))
        self.assertEqual([(c.test, c.option("time")) for c in quick], [("cpu", 1), ("jitter", 1)])
        self.assertEqual(matrix.quick(spec)["platforms"], spec["platforms"])

    def test_exits_is_vmexit_under_vmm_and_qemu_kvm(self):
        spec = matrix.load("exits")
        self.assertEqual((spec["platforms"], spec["platform_options"]),
                         (["vmm", "qemu-guest"], {"accel": "kvm"}))
        (case,) = matrix.cases(spec)
        self.assertEqual((case.test, case.vcpus, case.option("threads")), ("vmexit", 2, 1))
        self.assertIsNone(case.option("min-ticks"))          # the guest's default, 2^30
        (quick,) = matrix.cases(matrix.quick(spec))
        self.assertEqual(quick.option("min-ticks"), 1 << 24)
        self.assertIn("--min-ticks=16777216", quick.sysbench_args())
        (view,) = spec["views"]
        self.assertEqual((view["view"], view["subject"], view["baseline"]),
                         ("exits", "vmm", "qemu-guest"))

    def test_quick_shrinks_to_seconds(self):
        for name in ("vm-vs-container", "smp-mem-grid"):
            with self.subTest(preset=name):
                spec = matrix.quick(matrix.load(name))
                cases = matrix.cases(spec)
                self.assertEqual(spec["reps"], 1)
                self.assertEqual(len({(c.vcpus, c.mem_mib) for c in cases}), 1)
                self.assertTrue(all(c.option("time") == 1 for c in cases))
                self.assertTrue(all(c.option("cpu-max-prime", 0) <= 2000 for c in cases))
                self.assertEqual(len(cases), len(matrix.load(name)["tests"]))
                (fileio,) = [c for c in cases if c.test == "fileio"]
                self.assertEqual((fileio.option("file-total-size"), fileio.option("file-num"),
                                  fileio.disk_format()), ("16M", 4, "raw"))
                self.assertLessEqual(fileio.option("threads"), 2)

    def test_preset_is_not_modified_by_quick(self):
        matrix.quick(matrix.load("vm-vs-container"))
        self.assertEqual(matrix.PRESETS["vm-vs-container"]["reps"], 5)

    def test_unknown_preset(self):
        with self.assertRaisesRegex(matrix.MatrixError, r"no preset 'x' \(presets: "):
            matrix.load("x")


class Files(unittest.TestCase):
    def load(self, spec):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write(spec if isinstance(spec, str) else json.dumps(spec))
        return matrix.load(path=f.name)

    def test_a_matrix_file(self):
        spec = self.load({"shapes": [[2, 512]], "reps": 3, "time": 2,
                          "tests": [{"test": "memory", "options": [{"memory-block-size": "1M"}]}]})
        (case,) = matrix.cases(spec)
        self.assertEqual(case, Case("memory", (("memory-block-size", "1M"), ("threads", 2),
                                               ("time", 2)), 2, 512))
        self.assertEqual(case.sysbench_args(),
                         ["--memory-block-size=1M", "--threads=2", "--time=2"])
        self.assertIsNone(case.disk_format())

    def test_fileio_disks_and_threads(self):
        spec = self.load({"shapes": [[1, 512]], "reps": 1, "time": 3,
                          "tests": [{"test": "fileio", "disks": ["raw", "qcow2"], "options": [
                              {"file-test-mode": "rndrd", "threads": 4}]}]})
        raw, qcow2 = matrix.cases(spec)
        self.assertEqual(raw.options, (("file-test-mode", "rndrd"), ("threads", 4), ("time", 3),
                                       ("disk-format", "raw")))
        self.assertEqual(qcow2.disk_format(), "qcow2")
        # The disk format is the harness's: sysbench never sees it.
        self.assertEqual(qcow2.sysbench_args(),
                         ["--file-test-mode=rndrd", "--threads=4", "--time=3"])
        self.assertIn("disk-format=qcow2", qcow2.label())
        # Without "disks": raw.
        spec["tests"][0].pop("disks")
        (only,) = matrix.cases(spec)
        self.assertEqual(only.disk_format(), "raw")

    def test_bad_files(self):
        for spec, message in [("{", r"matrix file .*: Expecting"),
                              ({"tests": [{"test": "cpu", "options": [{}]}]}, r"no 'shapes'"),
                              ({"shapes": [[0, 1]], "tests": [{"test": "cpu", "options": [{}]}]},
                               r"shape \[0, 1\]: expected \[vCPUs, MiB\]"),
                              ({"shapes": [[1, 64]], "tests": [{"test": "gpu", "options": [{}]}]},
                               r"test 'gpu': expected one of cpu, memory, fileio, vmexit, "
                               r"jitter"),
                              ({"shapes": [[1, 64]], "platforms": "vmm",
                                "tests": [{"test": "cpu", "options": [{}]}]},
                               r"platforms 'vmm': expected a list of platform names"),
                              ({"shapes": [[1, 64]], "platform_options": ["accel"],
                                "tests": [{"test": "cpu", "options": [{}]}]},
                               r"platform_options: expected an object"),
                              ({"shapes": [[1, 64]], "views": [{"subject": "vmm"}],
                                "tests": [{"test": "cpu", "options": [{}]}]},
                               r"views .*: expected a list of \{\"view\": NAME"),
                              ({"shapes": [[1, 64]], "tests": [{"test": "cpu", "disks": ["raw"],
                                                                "options": [{}]}]},
                               r"only fileio takes \"disks\""),
                              ({"shapes": [[1, 64]], "tests": [{"test": "fileio",
                                                                "disks": ["vmdk"],
                                                                "options": [{}]}]},
                               r"fileio disks \['vmdk'\]: expected a list of raw and qcow2"),
                              ({"shapes": [[1, 64]], "tests": [{"test": "fileio", "options": [
                                  {"disk-format": "raw"}]}]}, r"as \"disks\", not as an option"),
                              ({"shapes": [[1, 64]], "tests": [{"test": "fileio", "options": [
                                  {"threads": 0}]}]}, r"threads 0: expected a positive")]:
            with self.subTest(spec=spec):
                with self.assertRaisesRegex(matrix.MatrixError, message):
                    self.load(spec)


class Flags(unittest.TestCase):
    def test_short_and_overcommitted(self):
        case = Case("cpu", (("threads", 4), ("time", 1)), 4, 1024)
        self.assertEqual(runner.flags(case, {"total_time_s": 0.5}, host_cpus=2),
                         ["short", "overcommitted"])
        self.assertEqual(runner.flags(case, {"total_time_s": 10}, host_cpus=8), [])


if __name__ == "__main__":
    unittest.main()
