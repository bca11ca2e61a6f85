"""Grouping on real input: pairs from public reports that are (or are not) one failure.

Each pair goes through the real pipeline (ops.record_error: redaction, classification, fingerprint);
"same" pairs must share a fingerprint, "different" pairs must not. The figures per split and source are
printed (pytest -s) and recorded in docs/grouping.md and docs/realworld.md.

The pairs of the first holdout (split dev-holdout1), of blind2 (dev-blind2), blind3 ... blind10 (dev-blind3 ...
dev-blind10) were each measured blind once and are tuning data since, with dev. The issue's target is
0.95 for the test split and 0.90 for the tuning data (the brief of the blind6 round: 0.85 without the disputed labels);
with fingerprint version 7 and blind6's classification fixes the seven tuning splits reach 313/385 (0.813), and 313/367
(0.853) without the "same" labels that issue 9's definition disputes (realworld.DISPUTED_PAIRS: two resources that each
need their own fix; blind4, blind5 and blind6 add none); the six splits tuned before blind6 266/328 (0.811) and 266/310
(0.858), the five before blind5 214/267 (0.801) and 214/249 (0.859), the four before blind4 166/206 (0.806) and
166/188 (0.883), the three before blind3 122/148 (0.824) and 122/130 (0.938).
The floors guard what is reached, so a change that loses grouping fails here; raise them as grouping improves.
"""

from __future__ import annotations

from collections import defaultdict

import psycopg
import pytest

from worker import realworld

TARGET = 0.95
FLOOR = 0.865       # test split (36/46 with version 3, 37/46 with version 4, 38/46 with AGENT.CONTEXT_LIMIT by code, 39/46
                    # with version 7 and blind6's patterns, 40/46 = 0.870 since the forty-second round's classification)
TUNED_TARGET = 0.90
TUNED_FLOOR = 0.765  # all ninety-six tuning splits (5805/7539 = 0.7700 when blind95 joined them at its blind 69/91;
                     # the ninety-five before it 5736/7448 = 0.7701 after blind94's round and decision 52; 5731/7448 = 0.7695 when blind94 joined them at its blind 65/104;
                     # the ninety-four before it 5666/7344 = 0.7715 after blind93's round and decisions 48 to 51; 5659/7344 = 0.7706 when blind93 joined them at its blind 79/98;
                     # the ninety-three before it 5580/7246 = 0.7701 after blind92's round and decisions 46, 47; 5577/7246 = 0.7697 when blind92 joined them at its blind 77/105;
                     # the ninety-two before it 5500/7141 = 0.7702 after blind91's round and decision 45; 5497/7141 = 0.7698 when blind91 joined them at its blind 76/102;
                     # the ninety-one before it 5421/7039 = 0.7701 after blind90's round and decision 44's code; 5416/7039 = 0.7694 when blind90 joined them at its blind 70/93;
                     # the ninety before it 5346/6946 = 0.7697 after blind89's round and the lookbehind; 5339/6946 = 0.7686 when blind89 joined them at its blind 102/144;
                     # the eighty-nine before it 5237/6802 = 0.7699 after blind88's round; 5229/6802 = 0.7687 when blind88 joined them at its blind 82/102;
                     # the eighty-eight before it 5147/6700 = 0.7682 after blind87's round and when blind87 joined them at its blind 80/108;
                     # the eighty-seven before it 5067/6592 = 0.7687 after blind86's round; 5059/6592 = 0.7675 when blind86 joined them at its blind 70/117;
                     # the eighty-six before it 4989/6475 = 0.7705 after blind85's round;
                     # 4984/6475 = 0.7697 when blind85 joined them at its blind 79/116;
                     # the eighty-five before it 4905/6359 = 0.7713 after blind83's and blind84's rounds;
                     # 4894/6359 = 0.7696 when blind83 and blind84 joined them at their
                     # blind 83/137 and 78/115; the eighty-three before them 4733/6107 = 0.7750 with decision 36's codes;
                     # 4732/6107 = 0.7749 after blind81's and blind82's rounds;
                     # 4722/6107 = 0.7732 when blind81 and blind82 joined them at their
                     # blind 77/127 and 101/143; the eighty-one before them 4544/5837 = 0.7785 with 55 patterns
                     # grouped by themselves; 4476/5837 = 0.7668 after blind79's and blind80's rounds; 4465/5837
                     # = 0.7650 when blind79 and blind80 joined them at their
                     # blind 74/109 and 66/90; the seventy-nine before them 4325/5638 = 0.7671 with four more codes
                     # grouped by pattern;
                     # 4279/5638 = 0.7590 after blind77's and blind78's rounds and
                     # text-generation-inference's two warmup patterns; 4269/5638 = 0.7572 when blind77 and blind78 joined them at
                     # their blind 86/118 and 67/89; the seventy-seven before them 4116/5431 = 0.7579 with
                     # INFRA.OUT_OF_MEMORY grouped by pattern, 4111/5431 after blind75's and blind76's rounds;
                     # 4107/5431 = 0.7562 when blind75 and blind76 joined them at
                     # their blind 65/85 and 66/97; the seventy-five before them 3976/5249 = 0.7575 after blind73's and
                     # blind74's rounds; 3972/5249 = 0.7567 with the group names of five products'
                     # patterns; 3966/5249 = 0.7556 with version 35 and six codes grouped by
                     # pattern when blind73 and blind74 joined them at their blind 75/97 and 81/104; the seventy-three
                     # before them 3810/5048 = 0.7548 with the six codes grouped by pattern, 3783/5048 = 0.7494 before;
                     # 2777/3819 = 0.7271 when blind59 joined)
UNDISPUTED_FLOOR = 0.765  # all ninety-six without the disputed labels (5805/7521 = 0.7718 when blind95 joined;
                         # 5736/7430 = 0.7720 before it, after blind94's round and decision 52; 5731/7430 = 0.7713 when blind94 joined;
                         # 5666/7326 = 0.7734 before it, after blind93's round and decisions 48 to 51; 5659/7326 = 0.7725 when blind93 joined;
                         # 5580/7228 = 0.7720 before it, after blind92's round and decisions 46, 47; 5577/7228 = 0.7716 when blind92 joined;
                         # 5500/7123 = 0.7721 before it, after blind91's round and decision 45; 5497/7123 = 0.7717 when blind91 joined;
                         # 5421/7021 = 0.7721 before it, after blind90's round and decision 44's code; 5416/7021 = 0.7714 when blind90 joined;
                         # 5346/6928 = 0.7716 before it, after blind89's round; 5339/6928 = 0.7706 when blind89 joined;
                         # 5237/6784 = 0.7720 before it, after blind88's round; 5229/6784 = 0.7708 when blind88 joined;
                         # 5147/6682 = 0.7703 before it, after blind87's round and when blind87 joined;
                         # 5067/6574 = 0.7708 before it, after blind86's round; 5059/6574 = 0.7695 when blind86 joined;
                         # 4989/6457 = 0.7726 before it, after blind85's round; 4984/6457 = 0.7719 when blind85 joined;
                         # 4905/6341 = 0.7735 before it; 4894/6341 = 0.7718 when blind83 and blind84
                         # joined; 4733/6089 = 0.777 before them; 4732/6089 = 0.777 after their rounds; 4722/6089
                         # = 0.7755 when blind81 and blind82
                         # joined; 4544/5819 = 0.781 before them; 4465/5819 = 0.767 when blind79 and blind80
                         # joined; 4269/5620 = 0.760 when blind77 and blind78
                         # joined; 4107/5413 = 0.759 when blind75 and blind76 joined; 3966/5231 = 0.758 when blind73 and blind74 joined; 3810/5030 = 0.757 before them)
# The splits tuned before each later set joined keep what they reached, so a change that helps a newer set at an older
# one's cost fails: {set that joined: (floor, floor without the disputed labels)}, figures with version 8 unless said (blind9's with version 9, blind10's with version 10).
BEFORE = {
    "blind95": (0.765, 0.77),  # 5736/7448 with version 35 after blind94's round and decision 52; 5736/7430 undisputed
    "blind94": (0.765, 0.77),  # 5666/7344 with version 35 after blind93's round and decisions 48 to 51; 5666/7326 undisputed
    "blind93": (0.765, 0.77),  # 5580/7246 with version 35 after blind92's round and decisions 46, 47; 5580/7228 undisputed
    "blind92": (0.765, 0.77),  # 5500/7141 with version 35 after blind91's round and decision 45; 5500/7123 undisputed
    "blind91": (0.765, 0.77),  # 5421/7039 with version 35 after blind90's round and decision 44's code; 5421/7021 undisputed
    "blind90": (0.765, 0.77),  # 5346/6946 with version 35 after blind89's round and the lookbehind; 5346/6928 undisputed
    "blind89": (0.765, 0.77),  # 5237/6802 with version 35 after blind88's round; 5237/6784 undisputed
    "blind88": (0.765, 0.77),  # 5147/6700 with version 35 after blind87's round; 5147/6682 undisputed
    "blind87": (0.765, 0.77),  # 5067/6592 with version 35 after blind86's round; 5067/6574 undisputed
    "blind86": (0.77, 0.77),  # 4989/6475 with version 35 after blind85's round; 4989/6457 undisputed
    "blind85": (0.77, 0.77),  # 4905/6359 with version 35 after blind83's and blind84's rounds; 4905/6341 undisputed
    "blind84": (0.77, 0.77),  # 4816/6244 with version 35, dev-blind83 at its blind 83/137; 4816/6226 undisputed
    "blind83": (0.77, 0.775),  # 4733/6107 with version 35 after blind81's and blind82's rounds; 4733/6089 undisputed
    "blind82": (0.77, 0.775),  # 4621/5964 with version 35, dev-blind81 at its blind 77/127; 4621/5946 undisputed
    "blind81": (0.775, 0.78),  # 4544/5837 with version 35 and 55 patterns grouped by themselves; 4544/5819 undisputed
    "blind80": (0.765, 0.765),  # 4399/5747 with version 35, dev-blind79 at its blind 74/109; 4399/5729 undisputed
    "blind79": (0.765, 0.765),  # 4325/5638 with version 35 and eleven codes grouped by pattern; 4325/5620 undisputed
    "blind78": (0.755, 0.755),  # 4202/5549 with version 35, dev-blind77 at its blind 86/118; 4202/5531 undisputed
    "blind77": (0.755, 0.755),  # 4116/5431 with version 35 after blind75's and blind76's rounds and INFRA.OUT_OF_MEMORY
                                # grouped by pattern; 4116/5413 undisputed
    "blind76": (0.755, 0.755),  # 4041/5334 with version 35, dev-blind75 at its blind 65/85; 4041/5316 undisputed
    "blind75": (0.755, 0.755),  # 3976/5249 with version 35 after blind73's and blind74's rounds and decisions 34 and 35;
                                # 3976/5231 undisputed
    "blind74": (0.745, 0.745),  # 3885/5145 with version 35 and grouping by pattern, dev-blind73 at its blind 75/97;
                                # 3885/5127 undisputed
    "blind73": (0.745, 0.745),  # 3810/5048 with version 35 after blind71's and blind72's rounds, decision 33 and the six
                                # codes grouped by pattern; 3810/5030 undisputed
    "blind72": (0.735, 0.735),  # 3711/4956 with version 35, dev-blind71 at its blind 76/89; 3711/4938 undisputed
    "blind71": (0.735, 0.735),  # 3635/4867 with version 35 after blind70's round and decision 32; 3635/4849 undisputed
    "blind70": (0.735, 0.735),  # 3547/4780 with version 35 after blind69's round; 3547/4762 undisputed
    "blind69": (0.735, 0.735),  # 3477/4694 with version 35 after blind68's round and the timeout pass; 3477/4676 undisputed
    "blind68": (0.735, 0.735),  # 3394/4594 with version 35 after blind67's round; 3394/4576 undisputed
    "blind67": (0.735, 0.735),  # 3302/4478 with version 35 after blind66's round; 3302/4460 undisputed
    "blind66": (0.735, 0.735),  # 3227/4380 with version 35 after blind65's round; 3227/4362 undisputed
    "blind65": (0.735, 0.735),  # 3160/4295 with version 35 after blind64's round and decision 27; 3160/4277 undisputed
    "blind64": (0.73, 0.735),  # 3087/4210 with version 35 after blind63's round; 3087/4192 without the disputed labels
    "blind63": (0.73, 0.73),  # 3009/4116 with version 35 after blind62's round; 3009/4098 without the disputed labels
    # 2939/4016 with version 35 after blind61's round; 2939/3998 without the disputed labels. 2938 since the pass on the
    # bare word `timeout` (2026-12-05): gha-b57pair-07 (ARC's two registration-timeout recreations) had grouped only
    # because both sides read NET.TIMEOUT from `"configuredRegistrationTimeout":`, wrongly; as UNKNOWN their pod names
    # differ. 0.7349 undisputed, under the 0.735 this row had asserted.
    "blind62": (0.73, 0.73),
    "blind61": (0.725, 0.73),  # 2848/3905 with version 35 after blind60's round; 2848/3887 without the disputed labels
    "blind60": (0.725, 0.73),  # 2781/3819 with version 35 after blind59's round; 2781/3801 without the disputed labels
    "blind59": (0.73, 0.73),  # 2708/3705 with version 35 after blind58's round; 2708/3687 without the disputed labels
    "blind58": (0.73, 0.735),  # 2643/3611 with version 34 after blind57's round; 2643/3593 without the disputed labels
    "blind57": (0.73, 0.735),  # 2566/3494 with version 34 after blind56's round; 2566/3476 without the disputed labels
    "blind56": (0.73, 0.735),  # 2522/3433 with version 34 after blind55's round; 2522/3415 without the disputed labels
    "blind55": (0.73, 0.735),  # 2467/3364 with version 34 after blind54's round; 2467/3346 without the disputed labels
    "blind54": (0.735, 0.74),  # 2430/3301 with version 34 after blind53's round; 2430/3283 without the disputed labels
    "blind53": (0.735, 0.74),  # 2382/3231 with version 34 after blind52's round; 2382/3213 without the disputed labels
    "blind52": (0.735, 0.74),  # 2327/3161 with version 34 after blind51's round; 2327/3143 without the disputed labels
    "blind51": (0.735, 0.74),  # 2278/3094 with version 34 after blind50's round; 2278/3076 without the disputed labels
    "blind50": (0.735, 0.74),  # 2227/3013 with version 34 after blind49's round; 2227/2995 without the disputed labels
    "blind49": (0.735, 0.74),  # 2164/2931 with version 34 after blind48's round; 2164/2913 without the disputed labels
    "blind48": (0.735, 0.74),  # 2134/2893 with version 34 after blind47's round; 2134/2875 without the disputed labels
    "blind47": (0.74, 0.745),  # 2091/2806 with version 34 after blind46's round (2091/2788 without the disputed labels);
                               # 2090 after blind47's: its round read Terraform's `unexpected state` as TF.RESOURCE_TIMEOUT
                               # only for a state still in progress, so a resource ending in ERROR reads UNKNOWN.TERRAFORM
                               # as labelled (dev-blind38 and dev-blind42 gain one message each) and tf-b38pair-04, whose
                               # two sides name two resources, is grouped by text and splits
    "blind46": (0.745, 0.75),  # 2058/2747 with version 34 after blind45's round; 2058/2729 without the disputed labels
    "blind45": (0.75, 0.755),  # 2020/2681 with version 33 after blind44's round; 2020/2663 without the disputed labels
    "blind44": (0.755, 0.76),  # 1973/2599 with version 32 after blind43's round; 1973/2581 without the disputed labels
    "blind43": (0.76, 0.765),  # 1938/2549 with version 31 after blind42's round; 1938/2531 without the disputed labels
    "blind42": (0.765, 0.77),  # 1888/2464 with version 30 after blind41's round; 1888/2446 without the disputed labels
    "blind41": (0.77, 0.775),  # 1855/2407 with version 29 after blind40's round; 1855/2389 without the disputed labels
    "blind40": (0.77, 0.775),  # 1814/2346 with version 28 after blind39's round; 1814/2328 without the disputed labels
    "blind39": (0.775, 0.78),  # 1789/2302 with version 27 after blind38's round; 1789/2284 without the disputed labels;
                               # 1790/2302 and 1790/2284 with version 28 (tf-b38pair-04)
    "blind38": (0.775, 0.785),  # 1754/2250 with version 26 after blind37's round; 1754/2232 without the disputed labels;
                                # 1755 after blind38's round (vercel-b26pair-01, one code on both sides now)
    "blind37": (0.78, 0.785),  # 1724/2208 with version 25 after blind36's round; 1724/2190 without the disputed labels;
                               # 1725/2208 and 1725/2190 with version 26 (ops-b36pair-01)
    "blind36": (0.78, 0.785),  # 1684/2152 with version 23 after blind35's round; 1684/2134 without the disputed labels;
                               # 1688/2152 and 1688/2134 with version 24 (dns-b11pair-05, dns-b25pair-08, dns-b33pair-01,
                               # dns-b35pair-06)
    "blind35": (0.78, 0.79),  # 1647/2100 with version 23 after blind34's round; 1647/2082 without the disputed labels
    "blind34": (0.78, 0.79),  # 1603/2041 with version 22 after blind33's round; 1603/2023 without the disputed labels;
                              # 1606/2041 and 1606/2023 with version 23 (dns-b20pair-01, ops-b23pair-11, dns-b29pair-02);
                              # 1605 after blind34's round (agent_runner-b17-pair-06 merged by decision 13 widened)
    "blind33": (0.78, 0.79),  # 1562/1984 with version 22 after blind32's round; 1562/1966 without the disputed labels
    "blind32": (0.78, 0.79),  # 1512/1925 with version 21 after blind31's round; 1512/1907 without the disputed labels;
                              # 1516/1925 and 1516/1907 with version 22 (odoo-b14pair-05, ops-b20pair-01, ops-b20pair-02,
                              # odoo-b26pair-08)
    "blind31": (0.78, 0.79),  # 1460/1853 with version 20 after blind30's round; 1460/1835 without the disputed labels;
                              # 1462/1853 and 1462/1835 with version 21 (dns-b12pair-04, dns-b29pair-09); 1461 after
                              # blind31's round (agent-b8pair-04 merged by decision 13)
    "blind30": (0.78, 0.79),  # 1404/1782 with version 20 after blind29's round; 1404/1764 without the disputed labels;
                              # 1406/1782 and 1406/1764 with version 21; 1405 after blind31's round (agent-b8pair-04)
    "blind29": (0.78, 0.79),  # 1356/1719 with version 20 after blind28's round; 1356/1701 without the disputed labels;
                              # 1357/1719 and 1357/1701 with version 21 (dns-b12pair-04); 1356 after blind31's round
    "blind28": (0.79, 0.80),  # 1308/1657 with version 19 after blind27's round; 1308/1639 without the disputed labels;
                              # 1311/1657 and 1311/1639 with version 20 (agent-b16pair-02, agent-b22pair-02, agent-b23pair-08);
                              # 1312/1657 and 1312/1639 with blind28's round (vercel-b5pair-06); 1313 with version 21
                              # (dns-b12pair-04), 1312 again since the thirty-first round's decision 13 merged
                              # agent-b8pair-04 (AGENT.CONTEXT_LIMIT is grouped by code)
    "blind27": (0.79, 0.80),  # 1256/1587 with version 19 after blind26's round; 1256/1569 without the disputed labels
    "blind26": (0.79, 0.80),  # 1220/1530 with version 19 after blind25's round; 1220/1512 without the disputed labels
    "blind25": (0.80, 0.81),  # 1189/1483 with version 19 after blind24's round; 1189/1465 without the disputed labels
    "blind24": (0.80, 0.81),  # 1147/1424 with version 18 after blind23's round; 1147/1406 without the disputed labels
    "blind23": (0.80, 0.82),  # 1101/1360 with version 18 after blind22's round; 1101/1342 without the disputed labels
    "blind22": (0.81, 0.82),  # 1051/1296 with version 18 after blind21's round; 1051/1278 without the disputed labels
    "blind21": (0.81, 0.82),  # 999/1231 with version 17 after blind20's round; 999/1213 without the disputed labels
    "blind20": (0.81, 0.82),  # 945/1160 with version 17 after blind19's round; 945/1142 without the disputed labels
    "blind19": (0.82, 0.83),  # 898/1098 with version 16 after blind18's round; 898/1080 without the disputed labels;
                              # 901/1098 and 901/1080 with version 17
    "blind18": (0.82, 0.83),  # 845/1030 with version 15 after blind17's round, 846/1030 with version 16 (ops-b14pair-09);
                              # 846/1012 without the disputed labels; 849/1030 and 849/1012 with version 17
    "blind17": (0.82, 0.84),  # 787/962 with version 14 after blind16's round, 790/962 with version 15; 790/944 without
                              # the disputed labels; 794/962 and 794/944 with version 17
    "blind16": (0.82, 0.83),  # 735/900 with version 14 after blind16's round (734 before it), 736/900 with version 15;
                              # 736/882 without the disputed labels; 739/900 and 739/882 with version 17
    "blind15": (0.81, 0.83),  # 683/843 with version 12 after blind14's round, 687/843 with version 15; 687/825 without
                             # the disputed labels
    "blind14": (0.80, 0.82),  # 637/788 with version 12 after blind13's and blind14's rounds; 637/770 without the
                              # disputed labels
    "blind13": (0.81, 0.82),  # 592/734 with version 12 after blind12's and blind13's rounds; 592/716 without the
                              # disputed labels; 596/734 and 596/716 with version 17
    "blind12": (0.81, 0.82),  # 547/678 with versions 11 and 12 (after blind11's and blind12's rounds); 547/660 without
                              # the disputed labels; 551/678 and 551/660 with version 17
    "blind11": (0.81, 0.82),  # 501/623 with versions 10 and 11 (after blind10's and blind11's rounds); 501/605 without
                              # the disputed labels; 505/623 and 505/605 with version 17
    "blind10": (0.80, 0.84),  # 454/562 with version 10 after blind10's round (453 with version 9); 454/544 without the
                              # disputed labels; 457/562 and 457/544 with version 17
    "blind9": (0.81, 0.84),  # 403/497 with version 9 after blind9's round (401 with version 8); 403/479 without the
                             # disputed labels
    "blind8": (0.81, 0.83),  # 361/442 (355 with version 7); 355/424 without the disputed labels when it joined
    "blind7": (0.81, 0.85),  # 313/385 with version 7; 313/367
    "blind6": (0.81, 0.85),  # 266/328 with version 7 (264 with version 6); 266/310
    "blind5": (0.80, 0.85),  # 214/267 with version 7 (212 with version 6); 214/249
    "blind4": (0.80, 0.88),  # 166/206 with version 7 (165 with version 6); 166/188
    "blind3": (0.82, 0.93),  # dev, dev-holdout1 and dev-blind2: 122/148 with version 7 (121 with version 6); 122/130
}
PAIR_FLOOR = 0.89  # dev and dev-holdout1 alone (was 0.87 with version 3: 80/91; 81/91 with version 4)


def _fingerprint(cur, source: str, phase: str | None, message: str) -> str:
    return cur.execute("SELECT fingerprint FROM ops.record_error(source => %s, phase => %s, message => %s)",
                       (source, phase, message)).fetchone()[0]


@pytest.fixture(scope="module")
def outcomes(module_db_url):
    rows = []
    with psycopg.connect(module_db_url) as conn, conn.cursor() as cur:
        for p in realworld.load_tuned_pairs():
            rows.append((p, (_fingerprint(cur, p.source, *p.a) == _fingerprint(cur, p.source, *p.b)) == p.same))
        conn.rollback()
    return rows


def test_corpus_has_enough_pairs_of_both_kinds():
    pairs = realworld.load_tuned_pairs()
    assert len(pairs) >= 90
    assert {p.same for p in pairs} == {True, False}
    assert {p.split for p in pairs} == {"dev", "dev-holdout1", *(f"dev-blind{n}" for n in range(2, 96)), "test"}


def test_grouping_pairs_test_split_floor(outcomes, capsys):
    table: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for p, ok in outcomes:
        for key in ((p.split, p.source), (p.split, "all")):
            table[key][0] += ok
            table[key][1] += 1
    with capsys.disabled():
        print("\ngrouping pairs (same fingerprint iff same failure)")
        for (split, source), (ok, n) in sorted(table.items(), key=lambda kv: (kv[0][0], kv[0][1] == "all", kv[0][1])):
            print(f"  {split:<4} {source:<15} {ok:>3}/{n:<3} {ok / n:6.1%}")
        print("  tuning pairs wrong (tune on these only):",
              ", ".join(p.id for p, ok in outcomes if not ok and p.split in realworld.TUNED_SPLITS))
    ok, n = table[("test", "all")]
    assert ok / n >= FLOOR, f"grouping on the test split fell to {ok}/{n} (floor {FLOOR}, target {TARGET})"


def test_grouping_pairs_tuning_data_floor(outcomes):
    tuned = [(p, ok) for p, ok in outcomes if p.split in realworld.TUNED_SPLITS]
    assert len(tuned) >= 7539
    right = sum(ok for _, ok in tuned)
    assert right / len(tuned) >= TUNED_FLOOR, (f"grouping on the tuning data fell to {right}/{len(tuned)} "
                                               f"(floor {TUNED_FLOOR}, target {TUNED_TARGET})")
    first = [ok for p, ok in tuned if p.split in ("dev", "dev-holdout1")]
    assert sum(first) / len(first) >= PAIR_FLOOR, f"dev+dev-holdout1 fell to {sum(first)}/{len(first)}"
    undisputed = [ok for p, ok in tuned if p.id not in realworld.DISPUTED_PAIRS]
    assert sum(undisputed) / len(undisputed) >= UNDISPUTED_FLOOR, \
        f"grouping without the disputed labels fell to {sum(undisputed)}/{len(undisputed)}"
    for name, (floor, undisputed_floor) in BEFORE.items():
        before = realworld.TUNED_SPLITS[:realworld.TUNED_SPLITS.index(f"dev-{name}")]
        earlier = [(p, ok) for p, ok in tuned if p.split in before]
        assert sum(ok for _, ok in earlier) / len(earlier) >= floor, f"the splits tuned before {name} lost pairs"
        kept = [ok for p, ok in earlier if p.id not in realworld.DISPUTED_PAIRS]
        assert sum(kept) / len(kept) >= undisputed_floor, f"the splits tuned before {name} lost undisputed pairs"


def test_disputed_labels_are_same_pairs_of_the_tuning_data():
    pairs = {p.id: p for p in realworld.load_tuned_pairs()}
    assert all(pairs[i].same and pairs[i].split in realworld.TUNED_SPLITS for i in realworld.DISPUTED_PAIRS)


def test_different_failures_stay_apart_on_the_tuning_data(outcomes):
    """Versions 4 to 7 group more; they must not merge what the tuning data says is two failures. Still merged:
    dns-b4pair-03 (one line, "No SPF record exists for this domain", for two causes), vercel-b4pair-05 (two
    Edge Functions over the size limit: the first holdout labels two function names one failure, vercel-hpair-06, and
    that older reading is kept), vercel-b4pair-06 (merged since blind4's classification fix: both sides print "Could
    not identify Next.js version" for a Nuxt preset and a wrong Root Directory), and one of blind5's, merged at its
    blind measure: terraform-b5pair-05 ("Inconsistent dependency lock file" for two providers: the first holdout's
    tf-hpair-09 labels two providers of that detail line one failure, and that older reading is kept)
    (vercel-b5pair-06, "DEPLOYMENT_NOT_FOUND" with the deployment's URL on another line or absent, is apart since the
    twenty-eighth round: the regex for `The deployment could not be found on Vercel` makes that line one side's cause
    line), and one of blind6's,
    merged at its blind measure: vercel-b6pair-01 (two Root Directories whose `routes-manifest.json` is missing; the
    path is normalized away, as every other path is), and four of blind7's, merged at its blind measure and tuning
    data since: agent-b7pair-05, agent-b7pair-06, dns-b7pair-07 and dns-b7pair-09; and two more of blind7's, merged
    since the blind7 round's classification fixes gave both sides one code and one cause line: gha-b7pair-07 (both
    print only "Error: Username and password required"; which workflow reads the secret wrongly is not in the text)
    and ops-b7pair-05 (both print "no more connections allowed (max_client_conn)" for two poolers; DB.CONNECTION_LIMIT
    is grouped by code). Both were apart only while both sides were UNKNOWN, grouped by their whole texts. Three of
    blind8's, merged at its blind measure and tuning data since: agent-b8pair-06, gha-b8pair-06 and vercel-b8pair-04;
    and agent-b8pair-04, merged since the thirty-first round's decision 13 (an output budget above the model's maximum
    and a prompt above its window are both AGENT.CONTEXT_LIMIT, which is grouped by code).
    Four of blind9's, merged at its blind measure and tuning data since: agent-b9pair-07, agent-b9pair-08,
    gha-b9pair-06 and ops-b9pair-03. Three of blind10's, merged at its blind measure and tuning data since:
    agent-b10pair-07, tf-b10pair-05 and tf-b10pair-07. Three of blind11's, merged at its blind measure and tuning data
    since: agent-b11pair-05, dns-b11pair-03 and vercel-b11pair-07.
    Four of blind12's, merged at its blind measure and tuning data since: dns-b12pair-04 (apart since version 21,
    which keeps the name CoreDNS was asked for), gha-b12pair-03, odoo-b12pair-03 and vercel-b12pair-08.
    Three of blind13's, merged at its blind measure and tuning data since: agent_runner-b13pair-05, ops-b13pair-06 and
    tf-b13pair-07 (apart since 2026-12-05, see tf-b67pair-03 below). Three of blind14's, merged at its blind measure and tuning data since: agent-b14pair-05
    (apart since decision 15, see below), ops-b14pair-04 and tf-b14pair-03. Six of blind15's, merged at its blind measure and tuning data since:
    dns-b15pair-03, dns-b15pair-04, gha-b15pair-04, tf-b15pair-04, tf-b15pair-05 and tf-b15pair-06. Three of blind16's, merged at
    its blind measure and tuning data since: dns-b16pair-04 and tf-b16pair-05 (gha-b16pair-06, two Python versions a
    setup action could not find, is apart since version 17 keeps the version asked for). Two of blind17's, merged at its
    blind measure and tuning data since: ops-b17pair-06 and tf-b17pair-07 (apart since 2026-12-05, see
    tf-b67pair-03 below); and one more of blind17's, merged since its
    round's classification fix gave both sides one code: agent_runner-b17-pair-12 (a conversation over a 131072-token
    context and a provider's 8000-token cap on one request; both AGENT.CONTEXT_LIMIT now, which is grouped by code),
    and agent_runner-b17-pair-06, merged since the thirty-fourth round's decision 13 widened (`max_tokens must be less
    than or equal to <n>` and a prompt above the window are both AGENT.CONTEXT_LIMIT, grouped by code).
    Eight of blind18's, merged at its blind measure and tuning data since: gha-b18pair-03, ops-b18pair-06,
    ops-b18pair-10, tf-b18pair-02, tf-b18pair-09, vercel-b18pair-02, vercel-b18pair-05 and vercel-b18pair-06.
    And three more of blind18's, merged since its round's classification fixes gave both sides one code grouped by
    code: ops-b18pair-08 (Redis's `OOM command not allowed when used memory > 'maxmemory'` on two servers,
    INFRA.OUT_OF_MEMORY), vercel-b18pair-08 (SvelteKit's `Unsupported Node.js version: v<n>. Please use Node …` in two
    projects, VERCEL.RUNTIME_VERSION_UNSUPPORTED), both apart only while both sides were UNKNOWN; and agent-b18pair-07
    (Continue's own pre-check `Not enough context available to include …` against a too-small configured
    contextLength, and the provider's `exceed context limit`: AGENT.CONTEXT_LIMIT, one code, two fixes). Six of
    blind19's, merged at its blind measure and tuning data since: agent-b19pair-04, agent-b19pair-07, agent-b19pair-09,
    gha-b19pair-01, gha-b19pair-04 and gha-b19pair-09. And one more of blind19's, merged since its round's classification
    fix gave both sides one code grouped by code: ops-b19pair-02 (ClickHouse's per-query `Memory limit (for query)
    exceeded` and the server-wide `Memory limit (total) exceeded`, INFRA.OUT_OF_MEMORY; the same fix puts
    ops-b19pair-03, two total-limit texts, in one group). Two of blind20's, merged since its round's classification
    fixes gave both sides one code grouped by code: agent-b20pair-04 (two context-window rejections against two
    providers' limits, AGENT.CONTEXT_LIMIT) and agent-b20pair-05 (an OpenRouter key that can afford nothing and a
    prompt over the key's remaining allowance, AGENT.MODEL_QUOTA_EXHAUSTED); agent-b20pair-11, merged at the blind
    measure (a 429 rate limit and Qwen's exhausted free allocation, both INFRA.RATE_LIMITED then), is apart since.
    And one more of blind19's, merged since the twentieth round gave both sides the new code DB.STORAGE_QUOTA_EXCEEDED:
    ops-b19pair-08 (etcd's `mvcc: database space exceeded` from a benchmark and from Cilium leaking identities; both
    were apart only while both sides were UNKNOWN, grouped by their whole texts).
    Four of blind21's, merged at its blind measure and tuning data since: agent-b21pair-01, agent-b21pair-07,
    dns-b21pair-04 and gha-b21pair-05. Three of blind22's, merged at its blind measure and tuning data since:
    gha-b22pair-01, ops-b22pair-10 and vercel-b22pair-08. And two more of blind22's, merged since its round's
    classification fixes gave both sides one code: agent-b22pair-03 (Gemini's `No capacity available for
    model … on the server` for two models behind two clients, AGENT.MODEL_OVERLOADED, grouped by code) and
    vercel-b22pair-09 (Vercel's image optimizer answering `INVALID_IMAGE_OPTIMIZE_REQUEST` for two Payload sites, one
    text with a request ID line and one without; both HTTP.BAD_REQUEST now, the same cause line); both were apart only
    while both sides were UNKNOWN, grouped by their whole texts. Five of blind23's, merged at its blind measure and
    tuning data since: agent-b23pair-04 (apart since decision 15, see below), agent-b23pair-05, agent-b23pair-06 and
    vercel-b23pair-05 (ops-b23pair-06, two SQS
    consumers' expired receipt handles, apart since blind24's round: the OPS.CONSUMER_DEADLINE_EXCEEDED regex that
    reads `parameter ReceiptHandle is invalid. Reason: …` wins over the substring, and the two texts group apart). Five of blind24's, merged at its blind measure and tuning
    data since: dns-b24pair-06, tf-b24pair-05 (apart since 2026-12-05, see tf-b67pair-03
    below), tf-b24pair-06, vercel-b24pair-09 and vercel-b24pair-10; vercel-b24pair-07
    is apart since fingerprint version 19 (two Next.js routes in `Failed to collect page data for <route>`: the route
    names the page and is no longer read as <path>).
    And three merged since the twenty-fourth round's classification fixes gave both sides one code: agent-b24pair-06
    and agent-b24pair-07 (Moonshot's `exceeded current quota` for two accounts, and SiliconFlow's `requires paid
    balance` beside it: AGENT.MODEL_QUOTA_EXHAUSTED, grouped by code), and gha-b23pair-08 (the retired cache service
    behind a cache action and behind a BuildKit cache export, CI.ACTION_NOT_FOUND by decision 9: both grouping texts
    are the service's identical sunset sentence). And two merged since the lead took in the round's ProxySQL patterns:
    ops-b24pair-01 and ops-b24pair-03 (MySQL's per-user `max_user_connections` and ProxySQL's hostgroup connect timeout,
    each beside a server's `1040 Too many connections`: DB.CONNECTION_LIMIT, grouped by code).
    Seven of blind25's, merged at its blind measure and tuning data since: agent-b25pair-03, agent-b25pair-05,
    dns-b25pair-04, gha-b25pair-04, gha-b25pair-05 and tf-b25pair-05 (ops-b25pair-07, Postgres and Redis unreachable
    from one wait tool, apart since blind81's and blind82's round: ioredis' refused connect is DB.UNAVAILABLE's own pattern).
    Six of blind26's, merged at its blind measure and tuning data since: agent-b26pair-06, agent-b26pair-08,
    agent-b26pair-09, gha-b26pair-05, odoo-b26pair-06 and tf-b26pair-04. Ten of blind27's, merged at its blind measure and
    tuning data since: agent-b27pair-03, agent-b27pair-05, agent-b27pair-07, agent-b27pair-08, gha-b27pair-05,
    gha-b27pair-06, gha-b27pair-07, ops-b27pair-08, vercel-b27pair-02 and vercel-b27pair-09. Five of blind28's, merged
    at its blind measure and tuning data since: agent-b28pair-05, ops-b28pair-05, tf-b28pair-03, tf-b28pair-08 and
    vercel-b28pair-01. Eight of blind29's, merged at its blind measure and tuning data since: agent-b29pair-03,
    agent-b29pair-07, agent-b29pair-09, dns-b29pair-09 (apart since version 21), gha-b29pair-04, gha-b29pair-05,
    ops-b29pair-08 and tf-b29pair-03.
    Seven of blind30's, merged at its blind measure and tuning data since: agent-b30pair-08, agent-b30pair-09,
    dns-b30pair-07, gha-b30pair-11, odoo-b30pair-04, odoo-b30pair-05 and tf-b30pair-02. Nine of blind31's, merged at
    its blind measure and tuning data since: agent-b31pair-03, agent-b31pair-04, agent-b31pair-05, agent-b31pair-06,
    gha-b31pair-06, gha-b31pair-13, odoo-b31pair-02, ops-b31pair-01 and tf-b31pair-02.
    Eight of blind32's, merged at its blind measure, seven of them tuning data since: agent-b32pair-04,
    gha-b32pair-08, odoo-b32pair-03, ops-b32pair-03, ops-b32pair-10, tf-b32pair-03 and vercel-b32pair-02
    (gha-b32pair-05, pnpm/action-setup's `Multiple versions of pnpm specified` for two configurations, is apart since
    the thirty-second round: `errors like ERR_PNPM_…` no longer reads as an install failure, both sides are UNKNOWN
    and grouped by their texts). Four of blind33's, merged at its blind measure and tuning data since:
    agent-b33pair-07, dns-b33pair-04, vercel-b33pair-08 and vercel-b33pair-10. Five of blind34's, merged at its blind
    measure, four of them tuning data since: agent-b34pair-04, gha-b34pair-01, ops-b34pair-04 and tf-b34pair-04
    (tf-b34pair-05, two providers' bare `* <resource>: unexpected EOF`, is apart since the thirty-fourth round: both
    sides read `TF.PROVIDER_CRASHED` instead of `NET.UPSTREAM_ERROR` and are kept apart by their texts). Three of
    blind35's, merged at its blind measure: agent-b35pair-05, odoo-b35pair-03 and vercel-b35pair-01; and two more of
    blind35's, merged since its round's classification fixes gave both sides one code for one sentence: ops-b35pair-05
    (two Galera nodes not yet synced, DB.UNAVAILABLE) and ops-b35pair-09 (two Liquibase check-sum validations,
    SCHEMA.MIGRATION_FAILED). Two of blind36's, merged at its blind measure: gha-b36pair-04 (`Can't find 'action.yml'`
    under two different paths) and vercel-b36pair-02 (`Cannot find module` for a build output and an install script);
    and gha-b36pair-06, merged since its round's fixes gave both sides one code (setup-ruby's `Unknown version <v> for
    ruby on <image>` for two causes, CI.TOOLCHAIN_VERSION_UNAVAILABLE). blind37's tf-b37pair-05 (an Azure disk
    read and an azapi resource, both `context deadline exceeded` under Terraform), merged at its blind measure, is apart
    since its round read the azapi deadline as TF.RESOURCE_TIMEOUT. One of blind38's, merged at its blind measure:
    agent-b38pair-05 (OpenAI's `Request too large … on tokens per min` and Groq's tokens-per-day limit, both
    INFRA.RATE_LIMITED, grouped by code), apart since labelling decision 15 (the forty-third round) reads a request
    larger than the whole tokens-per-minute allowance as AGENT.CONTEXT_LIMIT; so are agent-b14pair-05 and
    agent-b23pair-04, whose one side is the same refusal. One of blind39's, merged at its blind measure: ops-b39pair-06 (Loki's
    `error sending batch` 429 from promtail to two hosts); its ops-b39pair-08 (CouchDB's `unauthorized` with `Name or
    password is incorrect` and with `Authentication required`), merged at its blind measure, is apart since its round
    read the first as DB.LOGIN_REJECTED. One of blind40's, merged at its blind measure: gha-b40pair-05 (two reusable
    workflows that cannot be fetched, `error parsing called workflow`, CI.WORKFLOW_INVALID, grouped by code). None of blind41's
    was merged at its blind measure, nor any of blind42's or blind43's. One of blind44's, merged at its blind measure:
    agent-b44pair-08 (Ollama's `llama runner process has terminated: exit status <hex>` for Windows' 0xc0000409, a
    stack buffer overrun, and 0xc000001d, an illegal instruction), is apart since version 33 keeps a hex exit status
    as it keeps a decimal one. Two of blind45's, merged at their blind measure: agent-b45pair-05 (OpenAI's maximum
    context refusal inside Auto-GPT for a prompt too long and for a completion budget too large, AGENT.CONTEXT_LIMIT,
    grouped by code) and ops-b45pair-12 (Helm's `cannot re-use a name that is still in use` for an upgrade whose
    rendered chart was invalid and for an install whose release name is taken). One of blind46's, merged at its blind
    measure: gha-b46pair-05 (flutter-action's `unable to find release for <version>` for a channel Flutter's release list
    does not have and for a release the action could not parse; only the versions differ, and both read
    `<n>.<n>.<n>`). One of blind47's, merged at its blind measure: agent-b47pair-05 (Anthropic's refusal of an
    output-token budget above the model's cap and of a prompt larger than its context window, AGENT.CONTEXT_LIMIT,
    grouped by code). None of blind48's or blind49's was merged at its blind measure. Three of blind50's, merged at
    its blind measure: gha-b50pair-03 (checkout's `repository … not found` for a private submodule and for the
    workflow's own repository), ops-b50pair-14 (two Loki 429s, one a line larger than the burst size, which
    the second side's text does not say) and ops-b50pair-16 (librdkafka's one MAXPOLL sentence under two products).
    Three of blind51's, merged at its blind measure: ops-b51pair-03 (two Vault 403s, a policy lacking the path and a
    path that does not exist, whose texts differ only in the path; apart since blind88's round, when Vault's `Code:
    <n>. Errors: * permission denied` got its own pattern, which one side's go-multierror line keeps from matching),
    tf-b51pair-03 (the Proxmox provider's one
    nil-interface panic at two different lookups) and tf-b51pair-10 (Terraform's `Unreadable module directory` for two
    different module sources). One of blind52's, merged at its blind measure: agent-b52pair-04 (Azure OpenAI's 400 on a
    broken tool-call transcript inside Semantic Kernel, an orphan tool message and tool calls left unanswered,
    AGENT.TOOL_CALL_TRANSCRIPT_INVALID, grouped by code). And one merged since blind52's round read Trino's memory
    limits as INFRA.OUT_OF_MEMORY (grouped by code): ops-b52pair-03 (a query over its per-node limit and a cluster out
    of memory). Two of blind53's, merged at its blind measure: ops-b53pair-06 (RQ's `Task exceeded maximum timeout
    value (<n> seconds)` from its work-horse monitor and from a job stuck in SMTP; the sentence is one) and
    ops-b53pair-19 (ProxySQL's `Max connect timeout reached while reaching hostgroup <n>` for an empty hostgroup and for
    a backend held by a table lock; only the hostgroup and the time differ). None of blind54's was merged at its blind
    measure. One of blind55's, merged at its blind measure:
    agent-b55pair-06 (two context-length 400s in one provider's sentence, a client's token count off by one and a
    completion reservation over the window, AGENT.CONTEXT_LIMIT, grouped by code); two more merged at it came apart in
    its round (agent-b55pair-08, Continue's 401 for a wrong key and for none, now ENV.KEY_MISSING; ops-b55pair-19,
    SeaweedFS out of disk on two volumes, now DB.STORAGE_QUOTA_EXCEEDED grouped by message). And two merged since
    that round read pool checkouts that time out as DB.CONNECTION_LIMIT (grouped by code): ops-b55pair-07
    (ActiveRecord's and Sequelize's pools) and ops-b55pair-14 (Knex's full pool, the thread's later diagnosis a
    firewall; decision 20 reads the words). Three of blind56's, merged at its blind measure: agent-b56pair-11 (vLLM's
    max seq len above its KV cache and a CUDA allocation that failed, both INFRA.OUT_OF_MEMORY, grouped by code), and
    ops-b56pair-04 and ops-b56pair-13 (HikariCP's and SQLAlchemy's client pools with no connection free against
    PostgreSQL's own per-role limit, all DB.CONNECTION_LIMIT, grouped by code): a client's pool against the server's
    slots, one code with two fixes (docs/grouping.md, "Measured and not adopted (the blind56 session)"). Two of
    blind57's, merged at its blind measure: agent-b57pair-09 (MemGPT's own pre-check of a prompt against a local
    model's window and OpenAI's 400 on prompt plus completion, both AGENT.CONTEXT_LIMIT, grouped by code) and
    ops-b57pair-16 (Npgsql's one `Timeout during reading attempt` sentence, once reading a slow query's result and once
    opening the connection), which came apart in its round when the opening side read DB.UNAVAILABLE. And one merged
    since that round read node-oracledb's pool queue timeout (NJS-040) as DB.CONNECTION_LIMIT (grouped by code):
    ops-b57pair-15, against MySQL's own `Too many connections`, a client's pool against the server's slots again.
    Two of blind58's, merged at its blind measure: dns-b58pair-10 (a zone transfer refused on port 53 and rndc refused
    on named's control port 953: both cause lines end in the same `connection refused`, the wrapper naming the service
    dropped) and tf-b58pair-03 (two helm_release `context deadline exceeded` diagnostics, pods never scheduled and
    Tiller unreachable, which the text alone cannot tell apart). Four of blind59's, merged at its blind measure, each
    by a code grouped by code: agent-b59pair-05 and agent-b59pair-06 (two different history faults in one transcript
    refusal each, opencode's function-call output without its call against a call without its reasoning item, and
    DashScope's tool calls without answers against a tool message without calls, AGENT.TOOL_CALL_TRANSCRIPT_INVALID),
    ops-b59pair-25 (the MariaDB connector's pool timeout in DBCode against MySQL's own `Too many connections`, a client's pool
    against the server's slots once more, DB.CONNECTION_LIMIT) and ops-b59pair-52 (Backblaze B2's per-minute listing
    limit and Google Drive's per-user rate limit under rclone, INFRA.RATE_LIMITED). None of blind60's or blind61's was merged
    at its blind measure. One of blind62's, merged at its blind measure by a code grouped by code: ops-b62pair-60 (two
    Let's Encrypt 429s through Caddy, too many certificates against too many failed authorizations,
    INFRA.RATE_LIMITED). And four merged since blind62's round gave both sides of each one code grouped by code, a
    trade the lead took (15 messages right against 4 pairs): ops-b62pair-09, -11 and -24 (a query's memory limit
    against the process's or the node's in StarRocks, Doris and Druid, INFRA.OUT_OF_MEMORY) and ops-b62pair-32
    (HikariCP's pool wait against PgDog's checkout timeout, DB.CONNECTION_LIMIT).
    Two of blind63's, merged at its blind measure: tf-b63pair-02 (two FortiGate 500s on create, a policy naming an
    interface that does not exist against a profile the device created anyway: both cause lines are the device's
    identical `Internal Server Error - Internal error when processing the request (500)`, which the text alone cannot
    tell apart) and ops-b63pair-29 (ProxySQL's `Max connect timeout reached while reaching hostgroup` against HikariCP's
    pool wait, DB.CONNECTION_LIMIT grouped by code). And one merged since blind63's round gave both sides their labelled
    DB.CONNECTION_LIMIT, grouped by code: ops-b63pair-23 (HikariCP's checkout timeout against RisingWave's sink refused
    with SQLSTATE 53300, too many connections).
    None of blind64's, blind65's or blind66's was merged at its blind measure. One merged since blind65's round gave
    both sides their labelled INFRA.RATE_LIMITED, grouped by code, a trade the lead took (one message right against one
    pair): agent-b65pair-12 (Anthropic's rate limit quoted in a Cody completion's unparsable response against Cody
    Gateway's own 429 allowance).
    One of blind67's was merged at its blind measure: tf-b67pair-03 (two providers' `Provider produced inconsistent
    result after apply`, Supabase's sensitive `.auth` against Twingate's `.access_group` set element: the cause line was
    the summary, which names no provider). Apart since 2026-12-05, with tf-b13pair-07, tf-b17pair-07, tf-b24pair-05,
    tf-b68pair-07 and -08: a pattern of the code reads the wrapped line that names the provider, so the provider's
    source stays in the grouping text (labelling decision 30: two providers' inconsistent results are two failures). And one merged
    since blind67's round gave both sides their labelled DB.CONNECTION_LIMIT, grouped by code, a trade the lead took
    (three messages and the "same" pair ops-b67pair-32 right against one pair): ops-b67pair-33 (Azure SQL's request
    limit reached for a single database against an elastic pool's).
    Two of blind68's were merged at its blind measure, as tf-b67pair-03 was: tf-b68pair-07 and tf-b68pair-08 (three
    providers' `Provider produced inconsistent result after apply`, Vercel's, Cloudsmith's and OneUptime's, each a
    different attribute and provider bug; apart since 2026-12-05, see tf-b67pair-03).
    Two of blind69's were merged at its blind measure: agent-b69pair-06 (llama.cpp's context overflow as its simple chat
    and its server print it, both AGENT.CONTEXT_LIMIT, grouped by code) and odoo-b69pair-06 (two IMAP connections' SSL
    `EOF occurred in violation of protocol (_ssl.c:<n>)`, a handshake and a dropped session, whose texts differ only in
    the C source line number); odoo-b69pair-06 is apart since blind69's round (the handshake reads NET.TLS_ERROR, the
    session imaplib aborted NET.UPSTREAM_ERROR, decision 26).
    Two of blind70's were merged at its blind measure: agent-b70pair-05 (Anthropic's `prompt is too long` against
    OpenRouter's endpoint context check, both AGENT.CONTEXT_LIMIT, grouped by code) and ops-b70pair-08 (node-oracledb's
    `NJS-500: connection to the Oracle Database was broken` over an end-of-file against the same line over an ORA-00600,
    the cause line the shared NJS-500).
    Five of blind71's and blind72's were merged at their blind measure: dns-b71pair-04 (acme.sh's `Error add txt for
    domain` line alone on both sides, the cause on one side a line the pair does not keep), ops-b71pair-15 (PostgreSQL's
    localized `too many clients` against HikariPool's request timeout, both DB.CONNECTION_LIMIT, grouped by code),
    ops-b72pair-18 and ops-b72pair-21 (Prisma's pool timeout against the Cassandra driver's busy pool and against
    PostgreSQL's role connection limit, DB.CONNECTION_LIMIT by code) and ops-b72pair-30 (libpq's `connection to server
    at … failed` over a timed-out connect against the same line over no route to host).
    None of blind73's or blind74's was merged at their blind measure (every wrong pair of theirs is a "same" pair split).
    None of blind77's was merged at its blind measure; one of blind78's, apart since its round: ops-b78pair-19 (two
    CouchDB `unauthorized` bodies, the replicator's access to a database it may not create against a user's to a
    database: both read AUTH.CREDENTIALS_INVALID by the bare `unauthorized` then, one group; DB.LOGIN_REJECTED since,
    each body its own group).
    Two of blind75's were merged at its blind measure, none of blind76's: ops-b75pair-21 and ops-b75pair-22 (DuckDB's
    `Out of Memory Error` for a block allocation the system refused, against one over the configured memory limit and
    against a lower limit that could not be applied: INFRA.OUT_OF_MEMORY both, grouped by code).
    Two merged since the rounds of blind71 and blind72 read both sides AGENT.MODEL_QUOTA_EXHAUSTED, grouped by code:
    agent-b71pair-03 and agent-b72pair-01 (two gateways' or providers' exhausted quota or credit, which the collectors
    read as two failures; the code's rule says one kind of fix, top up or wait, so it groups by code).
    And two merged since the twenty-fifth round's classification fixes gave both sides one code, grouped by code:
    agent-b25pair-04 (Cerebras' tokens-per-minute and requests-per-second limits, INFRA.RATE_LIMITED) and
    agent-b25pair-07 (two vLLM servers refusing over-long prompts in two phrasings, AGENT.CONTEXT_LIMIT).
    And four merged since the twenty-sixth round's classification fixes gave both sides one code, grouped by code:
    ops-b26pair-06 and ops-b26pair-08 (Elasticsearch's parent breaker against its request or in-flight-requests
    breaker, all INFRA.OUT_OF_MEMORY now; ops-b26pair-07, one parent breaker, is right since),
    agent-b26pair-04 (Mistral's `Unexpected role 'user' after role 'tool'` in two clients,
    AGENT.TOOL_CALL_TRANSCRIPT_INVALID) and agent-b26pair-07 (llama.cpp's `the request exceeds the available context
    size` on two servers, AGENT.CONTEXT_LIMIT).
    And three merged since the twenty-eighth round's classification fixes gave both sides one code: agent-b28pair-07
    (Bedrock's capacity refusals in two tools, AGENT.MODEL_OVERLOADED, grouped by code), dns-b28pair-05 (two
    servers refusing a dynamic update, AUTH.FORBIDDEN: both cause lines are nsupdate's identical `update failed:
    REFUSED`) and tf-b28pair-07 (Terraform's `Backend configuration changed` on a spurious repeated init, and its TRACE
    `configuration values have changed, so migration is required` for an http backend after an upgrade:
    TF.BACKEND_INIT_REQUIRED both, which the text alone cannot tell apart).
    And one merged since the twenty-ninth round's classification fixes gave both sides one code: agent-b29pair-05
    (OpenAI's `maximum context length is 8192 tokens` through LiteLLM and a local server's `request (<n> tokens) exceeds
    context size (<m> tokens)`, two products and limits: AGENT.CONTEXT_LIMIT both, grouped by code).
    And one merged since the thirtieth round's classification fixes gave both sides one code: agent-b30pair-06
    (NextChat's `max_tokens is too large: <n>. This model supports at most <m> completion tokens` for one model and a
    context-window overflow for another: AGENT.CONTEXT_LIMIT both by decision 13, grouped by code).
    Apart since the blind15 round: dns-b15pair-04 (two API server names in Go's `lookup <host>: no such host`, no
    server: a DNS.RECORD_MISSING regex names the host, so the cause line keeps it, as for `lookup <host> on <server>`);
    and with fingerprint version 13 (a regex that matches across lines groups by its match to the end of its last
    line): tf-b15pair-06 (two missing arguments: the TF.CONFIG_INVALID regex reads `Missing required argument` with
    `The argument "<name>" is required`), tf-b15pair-04 (two Cloudflare records: Terraform 0.11's
    `* <address>: … already exists` is read from its address) and ops-b9pair-03 (two buckets: the AWS CLI's `upload
    failed: … to s3://<bucket>/…` line is read from `upload failed:`).
    Apart since the blind14 round: ops-b3-pair-06 and ops-b14pair-04 (two deadlocks on different relations: the
    DB.DEADLOCK regex reads `deadlock detected` with the `DETAIL:  Process <n> waits for` line below it, so the whole
    message, whose `CONTEXT:` line names the relation, is the grouping text; since version 13 a regex runs to that
    `CONTEXT:` line and its match is the grouping text).
    Apart since the blind13 round: vercel-b13pair-07 (two packages using `eval` under the Edge Runtime: the
    VERCEL.EDGE_UNSUPPORTED_MODULES regex reads the `node_modules/<package>` line above the sentence, so the whole
    message, which names the package, is the grouping text).
    Apart since the blind11 round: sbfn-b11pair-05 (a DNS and a TLS failure above the edge runtime's bare `worker boot
    error` line: that line is a wrapper, so each cause line is the one that says why).
    Apart since the blind8 round: dns-b8pair-06 (Postfix's `Name service error for name=<domain> type=MX: Host not
    found, try again` for two recipient domains: the pattern names the domain, so the cause line keeps it).
    Apart since the blind6 round: odoo-hpair-04 and odoo-b6pair-05 (two access errors whose first lines are identical:
    the pattern that matches Odoo's `(Document type: <model>, Operation: <op>)` on the next line spans lines, so the
    whole message is the grouping text).
    Apart since the blind5 round, by patterns whose match names the resource on the cause line: ga-b2pair-05
    (`<cmd>: command not found`), tf-b3-pair-06 and terraform-b5pair-04 (the undeclared resource or variable
    named in the diagnostic's detail), terraform-b4pair-06 and terraform-b5pair-08 ("Error while installing
    <provider> v<version>: ..."), dns-b4pair-05 and dns-b5pair-05 (Go's `lookup <host> on <server>: no such
    host`), vercel-b4pair-07 (npm's `While resolving: <package>`), odoo-b5pair-04 (`module <name>: not
    installable, skipped`).
    Apart since the six codes of one kind whose patterns are each one product's or pool's words are grouped by pattern
    (sql/20261214000100_grouping_by_pattern.sql; AGENT.CONTEXT_LIMIT, AGENT.MODEL_QUOTA_EXHAUSTED,
    AGENT.TOOL_CALL_TRANSCRIPT_INVALID, DB.CONNECTION_LIMIT, TF.BACKEND_INIT_REQUIRED, VERCEL.RUNTIME_VERSION_UNSUPPORTED;
    docs/grouping.md, "Grouping by pattern"), thirty-nine pairs the code had merged:
    agent-b18pair-07, agent-b20pair-04, agent-b24pair-07, agent-b25pair-07, agent-b26pair-09, agent-b29pair-05,
    agent-b30pair-06, agent-b32pair-04, agent-b45pair-05, agent-b47pair-05, agent-b52pair-04, agent-b59pair-05,
    agent-b59pair-06, agent-b69pair-06, agent-b70pair-05, agent-b71pair-03, agent-b72pair-01, agent-b7pair-05,
    agent-b8pair-04, agent-b9pair-08, agent_runner-b17-pair-06, agent_runner-b17-pair-12, ops-b13pair-06,
    ops-b24pair-01, ops-b24pair-03, ops-b32pair-03, ops-b55pair-07, ops-b56pair-04, ops-b56pair-13, ops-b57pair-15,
    ops-b59pair-25, ops-b62pair-32, ops-b63pair-23, ops-b63pair-29, ops-b71pair-15, ops-b72pair-18, ops-b72pair-21,
    tf-b28pair-07, vercel-b18pair-02.
    Apart since INFRA.OUT_OF_MEMORY is grouped by pattern too (2026-12-06; docs/grouping.md, "Grouping by pattern"):
    six pairs its code had merged, ops-b19pair-02, ops-b52pair-03, agent-b56pair-11, ops-b62pair-24, ops-b75pair-21
    and ops-b75pair-22 (DuckDB's refused block has its own pattern).
    Merged since SCHEMA.MIGRATION_FAILED, DB.STATEMENT_TIMEOUT, DB.STORAGE_QUOTA_EXCEEDED and
    OPS.CONSUMER_DEADLINE_EXCEEDED are grouped by pattern (2026-12-06; docs/grouping.md, "Four codes by pattern"),
    twenty-five pairs one pattern reads on both sides, which the labels call two failures (71 "same" pairs joined):
    migrations refused on two relations or columns (odoo-b11pair-04, odoo-b20pair-10, odoo-b24pair-04,
    odoo-b24pair-08, odoo-b26pair-03, odoo-b29pair-07, odoo-b58pair-02, odoo-b58pair-03, ops-b6pair-05,
    ops-b62pair-30, ops-b64pair-23, ops-b71pair-06, ops-b71pair-08), SQLite's `database is locked` in two programs
    (ops-b28pair-07, ops-b30pair-08, ops-b71pair-16), Cassandra's write timeout at two consistency levels
    (ops-b35pair-03), two consumers past their deadline (ops-b23pair-06, ops-b28pair-04), and two stores full in one
    product's words (ops-b22pair-06, ops-b27pair-04, ops-b28pair-06, ops-b29pair-07, ops-b36pair-05,
    ops-b55pair-19).
    Six of blind79's merged at its blind measure, three of them apart since its round: agent-b79pair-11 (an AI SDK retry error over a 429 and Replicate's
    throttled 429, one rate-limit code grouped by code), gha-b79pair-08 and gha-b79pair-09 (GitHub's release API
    `Validation Failed` 422 for a tag name, a pre-receive hook and a bare 422, read by one pattern; apart since the
    round: the protected-tag refusal is AUTH.GITHUB.PERMISSION_DENIED), gha-b79pair-10 (two
    actions' `HttpError: Not Found` for two resources), odoo-b79pair-02 (a bad INSERT query and its not-null violation,
    two views of one failure the labels part), ops-b79pair-67 (frp's `login to server failed` over a DNS failure and
    over a refused connection; apart since the round, which reads frp's `login to server failed: EOF`). Four of
    blind80's, three of them apart since its round: ops-b80pair-09 (Cassandra's read and write timeouts, one
    DB.STATEMENT_TIMEOUT pattern since that code groups by pattern), ops-b80pair-17 (two `unauthorized` bodies; apart since the
    round: InfluxDB's 401 is DB.LOGIN_REJECTED), tf-b80pair-05 and tf-b80pair-11 (Naver Cloud's `400 Bad Request`
    bodies with three return codes; apart since the round).
    Four of blind81's and blind82's, merged at their blind measure: ops-b81pair-30 (ORA-03113's end-of-file from a cut
    session and from an unsupported server version), dns-b82pair-12 (Route53's throttling in two clients),
    ops-b82pair-32 (TypeORM's `relation … already exists` for two relations, one SCHEMA.MIGRATION_FAILED pattern since
    that code groups by pattern), tf-b82pair-15 (x509's unknown authority from two providers and two causes). One
    merged by their round: ops-b81pair-28 (mysqljs's `Connection lost: The server closed the connection.` at connect and
    on an idle connection, labelled two fixes by the threads' context; the text is one sentence, and its "same" sibling
    ops-b81pair-26 joined with it).
    Five of blind83's and blind84's, merged at their blind measure, three of them still: gha-b83pair-07 (two 429s in
    Gradle builds, Maven Central's and GitHub's cache service), odoo-b83pair-08 (Odoo's None ParseError for two add-ons'
    inherited views, in two languages), ops-b84pair-27 (etcd's `request timed out` for a member that cannot publish
    itself and for a slow read); apart since their round: gha-b83pair-11 (Yarn's YN0028 for a lockfile it would create
    and one it would modify, CI.DEPENDENCY_INSTALL_FAILED grouped by message) and dns-b84pair-08 (a DNS lookup's i/o
    timeout, NET.DNS_TEMPORARY_FAILURE now, and kube-dns's connect to the API server).
    One of blind85's, merged at its blind measure: ops-b85pair-31 (Flux's client rate limiter and a Helm install, each
    ending in Go's `context deadline exceeded`, which is all NET.TIMEOUT's grouping text keeps of either).
    One of blind86's, merged at its blind measure and apart since its round: ops-b86pair-24 (two MicroK8s unix sockets
    refusing gRPC connections, the datastore's kine socket, `DB.UNAVAILABLE` since, and containerd's).
    One of blind87's, merged at its blind measure and still: agent-b87pair-09 (Continue's bare `Status Code: 401` report
    for an Ollama and an OpenAI model: the provider whose key is missing is on a line above the status, which the
    cause line does not keep).
    One of blind88's, merged at its blind measure and still: tf-b88pair-09 (GitHub's secondary and primary rate limits,
    which need different waits; INFRA.RATE_LIMITED groups by code).
    Four of blind89's: two merged at its blind measure and still, ops-b89pair-20 and -62 (a bare `connection refused`
    from two services, all either side prints); two merged by its round, agent-b89pair-09 (Kiro's `model is temporarily
    busy` and `selected model is currently unavailable … select another model`, both AGENT.MODEL_OVERLOADED, grouped by
    code) and tf-b89pair-11 (Terraformer's `exec: no command` for two providers, which the text never names).
    One of blind21's, merged since AGENT.ITERATION_LIMIT (labelling decision 44, 2026-12-07) groups by pattern:
    agent-b21pair-09 (the OpenAI Agents SDK's `Max turns (10) exceeded` in its Go port and in Python, which the label
    calls two deployments; the text names neither).
    Two of blind94's, merged at its blind measure: dns-b94pair-06 (UxPlay's `dnssd_register_raop failed with error code
    <n>` for two DNS-SD errors, the code a number the normalization drops) and vercel-b94pair-02 (two Vercel rate
    limits, deployments per day and log writes, INFRA.RATE_LIMITED grouped by code).
    Two of blind95's, merged at its blind measure and apart since its round: agent-b95pair-04 (two OpenAI 404s logged by
    httpx, one for a path missing `/v1`, AGENT.MODEL_NOT_FOUND now only on the versioned route) and ops-b95pair-08
    (Istio's and Linkerd's sidecar injectors' webhooks that the API server could not call, each a bare deadline; the
    group's text keeps the webhook's name now)."""
    merged = sorted(p.id for p, ok in outcomes if not ok and not p.same and p.split in realworld.TUNED_SPLITS)
    assert merged == ["agent-b10pair-07", "agent-b11pair-05", "agent-b19pair-04", "agent-b19pair-07",
                      "agent-b19pair-09", "agent-b20pair-05", "agent-b21pair-01", "agent-b21pair-07", "agent-b21pair-09",
                      "agent-b22pair-03", "agent-b23pair-05", "agent-b23pair-06", "agent-b24pair-06",
                      "agent-b25pair-03", "agent-b25pair-04", "agent-b25pair-05", "agent-b26pair-04",
                      "agent-b26pair-06", "agent-b26pair-07", "agent-b26pair-08", "agent-b27pair-03",
                      "agent-b27pair-05", "agent-b27pair-07", "agent-b27pair-08", "agent-b28pair-05",
                      "agent-b28pair-07", "agent-b29pair-03", "agent-b29pair-07", "agent-b29pair-09",
                      "agent-b30pair-08", "agent-b30pair-09", "agent-b31pair-03", "agent-b31pair-04",
                      "agent-b31pair-05", "agent-b31pair-06", "agent-b33pair-07", "agent-b34pair-04",
                      "agent-b35pair-05", "agent-b55pair-06", "agent-b57pair-09", "agent-b65pair-12",
                      "agent-b79pair-11", "agent-b7pair-06", "agent-b87pair-09", "agent-b89pair-09", "agent-b8pair-06",
                      "agent-b9pair-07",
                      "agent_runner-b13pair-05", "dns-b11pair-03", "dns-b15pair-03", "dns-b16pair-04", "dns-b21pair-04",
                      "dns-b24pair-06", "dns-b25pair-04", "dns-b28pair-05", "dns-b30pair-07", "dns-b33pair-04",
                      "dns-b4pair-03", "dns-b58pair-10", "dns-b71pair-04", "dns-b7pair-07", "dns-b7pair-09",
                      "dns-b82pair-12", "dns-b94pair-06", "gha-b12pair-03", "gha-b15pair-04", "gha-b18pair-03",
                      "gha-b19pair-01", "gha-b19pair-04", "gha-b19pair-09", "gha-b21pair-05", "gha-b22pair-01",
                      "gha-b23pair-08", "gha-b25pair-04", "gha-b25pair-05", "gha-b26pair-05", "gha-b27pair-05",
                      "gha-b27pair-06", "gha-b27pair-07", "gha-b29pair-04", "gha-b29pair-05", "gha-b30pair-11",
                      "gha-b31pair-06", "gha-b31pair-13", "gha-b32pair-08", "gha-b34pair-01", "gha-b36pair-04",
                      "gha-b36pair-06", "gha-b40pair-05", "gha-b46pair-05", "gha-b50pair-03", "gha-b79pair-10",
                      "gha-b7pair-07", "gha-b83pair-07", "gha-b8pair-06", "gha-b9pair-06",
                      "odoo-b11pair-04", "odoo-b12pair-03", "odoo-b20pair-10", "odoo-b24pair-04", "odoo-b24pair-08",
                      "odoo-b26pair-03", "odoo-b26pair-06", "odoo-b29pair-07", "odoo-b30pair-04", "odoo-b30pair-05",
                      "odoo-b31pair-02", "odoo-b32pair-03", "odoo-b35pair-03", "odoo-b58pair-02", "odoo-b58pair-03",
                      "odoo-b79pair-02", "odoo-b83pair-08", "ops-b17pair-06", "ops-b18pair-06", "ops-b18pair-08",
                      "ops-b18pair-10", "ops-b19pair-08", "ops-b22pair-06", "ops-b22pair-10", "ops-b23pair-06",
                      "ops-b26pair-06", "ops-b26pair-08", "ops-b27pair-04", "ops-b27pair-08", "ops-b28pair-04",
                      "ops-b28pair-05", "ops-b28pair-06", "ops-b28pair-07", "ops-b29pair-07", "ops-b29pair-08",
                      "ops-b30pair-08", "ops-b31pair-01", "ops-b32pair-10", "ops-b34pair-04", "ops-b35pair-03",
                      "ops-b35pair-05", "ops-b35pair-09", "ops-b36pair-05", "ops-b39pair-06", "ops-b45pair-12",
                      "ops-b50pair-14", "ops-b50pair-16", "ops-b53pair-06", "ops-b53pair-19",
                      "ops-b55pair-14", "ops-b55pair-19", "ops-b59pair-52", "ops-b62pair-09", "ops-b62pair-11",
                      "ops-b62pair-30", "ops-b62pair-60", "ops-b64pair-23", "ops-b67pair-33", "ops-b6pair-05",
                      "ops-b70pair-08", "ops-b71pair-06", "ops-b71pair-08", "ops-b71pair-16", "ops-b72pair-30",
                      "ops-b7pair-05", "ops-b80pair-09", "ops-b81pair-28", "ops-b81pair-30", "ops-b82pair-32",
                      "ops-b84pair-27", "ops-b85pair-31", "ops-b89pair-20", "ops-b89pair-62", "terraform-b5pair-05", "tf-b10pair-05", "tf-b10pair-07", "tf-b14pair-03",
                      "tf-b15pair-05", "tf-b16pair-05", "tf-b18pair-02", "tf-b18pair-09", "tf-b24pair-06",
                      "tf-b25pair-05", "tf-b26pair-04", "tf-b28pair-03", "tf-b28pair-08", "tf-b29pair-03",
                      "tf-b30pair-02", "tf-b31pair-02", "tf-b32pair-03", "tf-b34pair-04", "tf-b51pair-03",
                      "tf-b51pair-10", "tf-b58pair-03", "tf-b63pair-02", "tf-b82pair-15", "tf-b88pair-09", "tf-b89pair-11", "vercel-b11pair-07",
                      "vercel-b12pair-08", "vercel-b18pair-05", "vercel-b18pair-06", "vercel-b18pair-08",
                      "vercel-b22pair-08", "vercel-b22pair-09", "vercel-b23pair-05", "vercel-b24pair-09",
                      "vercel-b24pair-10", "vercel-b27pair-02", "vercel-b27pair-09", "vercel-b28pair-01",
                      "vercel-b32pair-02", "vercel-b33pair-08", "vercel-b33pair-10", "vercel-b35pair-01",
                      "vercel-b36pair-02", "vercel-b4pair-05", "vercel-b4pair-06", "vercel-b6pair-01",
                      "vercel-b8pair-04", "vercel-b94pair-02"]
