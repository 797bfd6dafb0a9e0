"""Published per-exit costs, in cycles, beside the exits view's figures.

Two papers measured the cost of exits on x86 KVM with microbenchmarks close
to the guest's vmexit test:

- ISCA'16: C. Dall, S.-W. Li, J. T. Lim, J. Nieh, G. Koloventzos, "ARM
  Virtualization: Performance and Architectural Implications", ISCA 2016;
  Table III, "Microbenchmark Measurements (cycle counts)", x86 KVM column
  (Hypercall, Interrupt Controller Trap, Virtual IPI, Virtual IRQ
  Completion, VM Switch, I/O Latency Out, I/O Latency In).
  Text: https://pdfslide.net/documents/arm-virtualization-performance-and-architectural-implications.html
  (the authors' copy: https://www.cs.columbia.edu/~cdall/pubs/isca2016-dall.pdf).
- ASPLOS'20 DVH: J. T. Lim, J. Nieh, "Optimizing Nested Virtualization
  Performance Using Direct Virtual Hardware", ASPLOS 2020; its
  microbenchmark table (Hypercall, DevNotify, ProgramTimer, SendIPI), VM
  (L1, not nested) column.
  Text: https://vdocuments.us/optimizing-nested-virtualization-performance-using-direct-niehpubsasplos2020dvhpdf.html
  (the authors' copy: https://www.cs.columbia.edu/~nieh/pubs/asplos2020_dvh.pdf).

The figures must come from the papers' text, never from memory.  When this
table was written, the stored copies of both papers could be searched only
by their first page: neither table's text could be read, so every figure
below is None and the report leaves its cell empty, saying so.  Fill a
figure in only from the paper's table, with the page it was read from.

Each of our operations maps to the paper's row that measures the same
path, where one does: in-kernel I/O (ioeventfd) to ISCA'16's "I/O Latency
Out" (a write the kernel completes) and DVH's "DevNotify" (a virtio
doorbell); I/O handled in user space has no row in either.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Paper:
    key: str
    short: str            # the report's column header
    column: str           # which of the table's columns
    source: str           # where its text was looked for


@dataclasses.dataclass(frozen=True)
class Figure:
    row: str              # the paper's name for the microbenchmark
    cycles: int = None    # None: not read from the paper's text


ISCA16 = Paper("isca16", "ISCA'16 x86 KVM", "Table III, x86 KVM",
               "https://pdfslide.net/documents/"
               "arm-virtualization-performance-and-architectural-implications.html")
DVH20 = Paper("dvh20", "ASPLOS'20 DVH, VM", "microbenchmarks, VM (L1) column",
              "https://vdocuments.us/"
              "optimizing-nested-virtualization-performance-using-direct-niehpubsasplos2020dvhpdf.html")
PAPERS = (ISCA16, DVH20)

# Our operation -> {paper key: the paper's figure}.
FIGURES = {
    "hypercall": {"isca16": Figure("Hypercall"), "dvh20": Figure("Hypercall")},
    "pio_write_ioeventfd": {"isca16": Figure("I/O Latency Out"),
                            "dvh20": Figure("DevNotify")},
    "mmio_write_ioeventfd": {"isca16": Figure("I/O Latency Out"),
                             "dvh20": Figure("DevNotify")},
    "ipi": {"isca16": Figure("Virtual IPI"), "dvh20": Figure("SendIPI")},
    "eoi": {"isca16": Figure("Virtual IRQ Completion")},
    "timer": {"dvh20": Figure("ProgramTimer")},
}


def figure(op, paper):
    """The paper's Figure for our operation `op`, or None where the paper
    has no such row."""
    return FIGURES.get(op, {}).get(paper.key)


def missing():
    """The (paper, row) pairs whose figure was not read, each once."""
    out = []
    for rows in FIGURES.values():
        for key, f in rows.items():
            paper = next(p for p in PAPERS if p.key == key)
            if f.cycles is None and (paper, f.row) not in out:
                out.append((paper, f.row))
    return out
