"""The NMEA test logs are what their generator says: valid checksums, reproducible, expected content."""

from __future__ import annotations

import re

import pytest

from tests.data.nmea import make_logs

SENTENCE = re.compile(r"^\$([^*$]*)\*([0-9A-F]{2})$")


def test_checksum_matches_known_sentence():
    """The generator's checksum agrees with a sentence from a real receiver's documentation."""
    assert make_logs.checksum("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,") == "47"


@pytest.mark.parametrize("name", sorted(set(make_logs.LOGS) - {"garbage.log"}))
def test_every_sentence_has_a_valid_checksum(name):
    """Each non-comment line of the clean logs is a complete sentence with a correct checksum."""
    lines = [l for l in (make_logs.HERE / name).read_text().splitlines() if l and not l.startswith("#")]
    assert lines
    for line in lines:
        match = SENTENCE.match(line)
        assert match, line
        assert make_logs.checksum(match.group(1)) == match.group(2), line


@pytest.mark.parametrize("name,make", sorted(make_logs.LOGS.items()))
def test_committed_logs_match_generator(name, make):
    """Committed logs equal a fresh run of make_logs.py (edit the generator, not the logs)."""
    assert (make_logs.HERE / name).read_text() == "\n".join(make()) + "\n"


def test_garbage_log_has_bad_and_good_sentences():
    """The garbage log mixes invalid sentences with valid fixes."""
    lines = [l for l in (make_logs.HERE / "garbage.log").read_text().splitlines() if not l.startswith("#")]
    valid = [l for l in lines if (m := SENTENCE.match(l)) and make_logs.checksum(m.group(1)) == m.group(2)]
    assert 0 < len(lines) - len(valid) and len(valid) > len(lines) // 2


def test_encoded_position_round_trips():
    """The ddmm.mmmmmm encoding of Monas decodes back to within a centimetre."""
    la, _ = make_logs._lat(make_logs.MONAS_LAT)
    lo, _ = make_logs._lon(make_logs.MONAS_LON)
    lat = -(int(la[:2]) + float(la[2:]) / 60)
    lon = int(lo[:3]) + float(lo[3:]) / 60
    assert make_logs.haversine_m(lat, lon, make_logs.MONAS_LAT, make_logs.MONAS_LON) < 0.01
