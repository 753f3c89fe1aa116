"""The RePAIR paper's published numbers (Llama-3-8B), printed next to ours in reports.

Copied from the paper's Tables 2, 5, 6, 7 and 8 and Figure 5's caption. Utility is perplexity on
TinyStories; RTE is in minutes in Tables 2 and 6 and in seconds in Tables 5 and 7, as printed.
"""

from __future__ import annotations

TABLE2_METHODS = ["Base", "Oracle", "GA", "NPO", "RMU", "FLAT", "WGA", "ASU", "STAMP", "STAMP-LR"]

# task -> method -> (forget metric, retain metric, utility, RTE in minutes); None = N/A.
# Hazard and misinformation: Acc_f, Acc_r in percent; personal: F-RL, R-RL.
TABLE2: dict[str, dict[str, tuple[float | None, float | None, float | None, float | None]]] = {
    "hazard": {
        "Base": (75.30, 78.50, 5.90, None),
        "Oracle": (None, 77.37, 6.10, None),
        "GA": (0.00, 73.27, 11.27, 12.25),
        "NPO": (0.00, 71.37, 9.27, 11.17),
        "RMU": (0.00, 74.63, 7.10, 12.50),
        "FLAT": (0.01, 73.92, 8.36, 12.13),
        "WGA": (2.10, 70.17, 11.99, 11.20),
        "ASU": (0.90, 68.39, 7.91, 12.13),
        "STAMP": (0.00, 70.13, 6.55, 7.13),
        "STAMP-LR": (0.00, 73.27, 7.00, 4.25),
    },
    "misinformation": {
        "Base": (83.70, 86.30, 5.75, None),
        "Oracle": (None, 85.30, 5.25, None),
        "GA": (0.00, 83.21, 10.26, 6.58),
        "NPO": (0.10, 80.60, 11.27, 6.32),
        "RMU": (0.27, 82.17, 8.10, 6.00),
        "FLAT": (1.30, 80.01, 6.29, 7.12),
        "WGA": (2.47, 78.30, 10.90, 5.45),
        "ASU": (0.10, 79.93, 7.17, 6.36),
        "STAMP": (0.00, 80.13, 6.02, 4.25),
        "STAMP-LR": (0.00, 84.47, 7.39, 2.57),
    },
    "personal": {
        "Base": (0.87, 0.89, 5.01, None),
        "Oracle": (None, 0.90, 5.01, None),
        "GA": (0.13, 0.81, 10.17, 10.41),
        "NPO": (0.27, 0.83, 10.00, 9.48),
        "RMU": (0.16, 0.75, 8.07, 9.36),
        "FLAT": (0.33, 0.79, 7.17, 11.25),
        "WGA": (0.45, 0.85, 9.93, 9.24),
        "ASU": (0.07, 0.87, 8.18, 10.57),
        "STAMP": (0.00, 0.79, 6.07, 6.48),
        "STAMP-LR": (0.00, 0.88, 8.17, 4.01),
    },
}

# Table 5 (personal task): setting -> (F-RL, R-RL, utility, RTE seconds)
TABLE5 = {"Layer 7 only": (0.00, 0.85, 6.07, 4.36), "All layers": (0.00, 0.88, 6.02, 15.40)}

# Table 6 (personal, STAMP-LR): rank -> (F-RL, R-RL, utility, RTE minutes)
TABLE6 = {
    8: (0.00, 0.72, 6.83, 3.15),
    16: (0.00, 0.78, 6.45, 3.00),
    32: (0.00, 0.82, 6.21, 3.54),
    64: (0.00, 0.85, 6.10, 4.01),
    128: (0.00, 0.88, 6.07, 5.24),
}

# Table 7 (personal, STAMP-LR): retain ratio -> (F-RL, R-RL, utility, RTE seconds)
TABLE7 = {
    0.10: (0.00, 0.88, 8.83, 3.12),
    0.25: (0.00, 0.89, 8.21, 3.38),
    0.50: (0.00, 0.87, 8.74, 3.61),
    0.75: (0.00, 0.90, 7.32, 3.85),
    1.00: (0.00, 0.90, 7.07, 4.01),
}

# Table 8 (hazard / WMDP, |D_f| = 1, baselines one epoch): method -> (Acc_f, Acc_r, utility)
TABLE8 = {
    "GA": (100, 42.17, 6.02),
    "NPO": (100, 48.93, 5.45),
    "RMU": (100, 39.27, 6.25),
    "FLAT": (100, 51.63, 6.05),
    "WGA": (100, 44.51, 6.13),
    "ASU": (100, 53.12, 5.48),
    "STAMP": (0.00, 70.13, 6.55),
    "STAMP-LR": (0.00, 73.27, 7.00),
}

FIGURE5 = {"model": "Llama-3-8B", "data": "WMDP vs refusal", "best_layer": 7, "max_separation": 0.867}
