"""Curves bucket samples by arrived percent exactly as the paper's scripts."""

from __future__ import annotations

import numpy as np

from policyforge.tasks.k8s_gpu.metrics import arrived_percent, bucket_means, time_weighted_mean


def test_bucket_means_average_samples_and_borrow_neighbours_for_empty_buckets():
    percent = np.array([0, 0, 2, 5])
    values = np.array([1.0, 3.0, 10.0, 7.0])
    out = bucket_means(percent, values, top=7)
    assert out[0] == 2.0 and out[2] == 10.0 and out[5] == 7.0
    assert out[1] == np.mean([1.0, 3.0, 10.0])  # empty: the samples of 0..2
    assert out[3] == 10.0 and out[4] == 7.0 and out[6] == 7.0
    assert np.isnan(out[7])  # nothing within one percent


def test_arrived_percent_rounds_half_to_even():
    assert list(arrived_percent(np.array([5, 15, 25]), 1000)) == [0.0, 2.0, 2.0]


def test_time_weighted_mean_weighs_by_duration():
    assert time_weighted_mean(np.array([0.0, 1.0]), np.array([1.0, 0.0]), 4.0) == 0.25
