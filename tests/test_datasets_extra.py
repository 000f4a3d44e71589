"""Tests for braininabox.datasets' single-file data sets: find_data_file,
load_sms_spam (with a faked, content-verified download) and load_house_sales,
on synthetic files; plus the real files when $BB_DATA_DIR holds them."""

import io
import os
import pathlib
import urllib.error
import urllib.request
import zipfile

import numpy as np
import pytest
from test_datasets import (  # the same fake network as the MNIST loader's tests
    serve,
)

import braininabox.data.datasets as datasets
from braininabox.data import examples_sets

REAL_DATA_DIR = os.environ.get("BB_DATA_DIR")  # read before fixtures clear it




@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No BB_DATA_DIR, a private cache, no network."""
    monkeypatch.delenv("BB_DATA_DIR", raising=False)
    monkeypatch.delenv("BB_OFFLINE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def no_network(url, timeout=None):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)


def cache(tmp_path):
    return tmp_path / "cache" / "braininabox" / "data"


# ----------------------------------------------------------- find_data_file

def test_find_explicit_file_and_folder(tmp_path):
    f = tmp_path / "x" / "thing.csv"
    f.parent.mkdir()
    f.write_text("a\n")
    assert datasets.find_data_file("thing.csv", f) == f
    assert datasets.find_data_file("other-name.csv", str(f)) == f   # a file is taken as is
    found = datasets.find_data_file("thing.csv", tmp_path / "x")
    assert isinstance(found, pathlib.Path) and found == f


def test_find_explicit_path_is_final(tmp_path, monkeypatch):
    env = tmp_path / "env"
    env.mkdir()
    (env / "thing.csv").write_text("a\n")
    monkeypatch.setenv("BB_DATA_DIR", str(env))
    with pytest.raises(datasets.DatasetNotFoundError, match="does not exist") as e:
        datasets.find_data_file("thing.csv", tmp_path / "missing.csv")
    assert str(tmp_path / "missing.csv") in str(e.value)
    with pytest.raises(datasets.DatasetNotFoundError, match="does not hold thing.csv"):
        datasets.find_data_file("thing.csv", tmp_path)


def test_find_env_then_cache(tmp_path, monkeypatch):
    env = tmp_path / "env"
    env.mkdir()
    cache(tmp_path).mkdir(parents=True)
    (cache(tmp_path) / "thing.csv").write_text("cache\n")
    assert datasets.find_data_file("thing.csv") == cache(tmp_path) / "thing.csv"
    monkeypatch.setenv("BB_DATA_DIR", str(env))
    assert datasets.find_data_file("thing.csv") == cache(tmp_path) / "thing.csv"
    (env / "thing.csv").write_text("env\n")
    assert datasets.find_data_file("thing.csv") == env / "thing.csv"


def test_find_not_found_lists_places(tmp_path, monkeypatch):
    with pytest.raises(datasets.DatasetNotFoundError) as e:
        datasets.find_data_file("thing.csv", hint="Ask Bob.")
    message = str(e.value)
    assert isinstance(e.value, FileNotFoundError)
    assert "$BB_DATA_DIR (not set)" in message
    assert str(cache(tmp_path) / "thing.csv") in message
    assert "BB_DATA_DIR" in message and "Ask Bob." in message
    monkeypatch.setenv("BB_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(datasets.DatasetNotFoundError) as e:
        datasets.find_data_file("thing.csv")
    assert str(tmp_path / "env" / "thing.csv") in str(e.value)


# ------------------------------------------------------------ load_sms_spam

def test_sms_parse(tmp_path):
    f = tmp_path / "SMSSpamCollection"
    f.write_bytes('ham\tSay "hi" to mum\r\nspam\tWIN £100! "Free"\tnow\n\n'
                  .encode("utf-8"))
    labels, texts = datasets.load_sms_spam(f)
    assert labels == ["ham", "spam"]
    assert texts == ['Say "hi" to mum', 'WIN £100! "Free"\tnow']   # no quote handling


def test_sms_found_in_env(tmp_path, monkeypatch):
    (tmp_path / "SMSSpamCollection").write_text("ham\tok\n")
    monkeypatch.setenv("BB_DATA_DIR", str(tmp_path))
    assert datasets.load_sms_spam() == (["ham"], ["ok"])


@pytest.mark.parametrize("content, fragments", [
    (b"ham\tok\nspam without tab\n", ["line 2", "no tab"]),
    (b"ham\tok\n\nHam\tx\n", ["line 3", "'Ham'", "neither"]),
    (b"ham\tok\nham\t\xff\xfe\n", ["line 2", "UTF-8"]),
    (b"\n\n", ["no messages"]),
])
def test_sms_malformed(tmp_path, content, fragments):
    f = tmp_path / "corpus.tsv"
    f.write_bytes(content)
    with pytest.raises(ValueError) as e:
        datasets.load_sms_spam(f)
    assert str(f) in str(e.value)
    for fragment in fragments:
        assert fragment in str(e.value)


def sms_zip(n=examples_sets.SMS_SPAM_COUNT, n_spam=examples_sets.SMS_SPAM_SPAM_COUNT,
            name="SMSSpamCollection", extra=b""):
    lines = [f"{'spam' if i < n_spam else 'ham'}\tmessage {i} \"quoted\""
             for i in range(n)]
    data = ("\n".join(lines) + "\n").encode("utf-8") + extra
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, data)
        z.writestr("readme", "about")
    return buf.getvalue(), data


def test_sms_download_verified_and_cached(tmp_path, monkeypatch):
    payload, data = sms_zip()
    calls = serve(monkeypatch, {examples_sets.SMS_SPAM_URL: payload})
    labels, texts = datasets.load_sms_spam()
    assert len(labels) == 5574 and labels.count("spam") == 747
    assert texts[0] == 'message 0 "quoted"'
    assert [url for url, _ in calls] == [examples_sets.SMS_SPAM_URL]
    assert os.listdir(cache(tmp_path)) == ["SMSSpamCollection"]     # no temp left
    assert (cache(tmp_path) / "SMSSpamCollection").read_bytes() == data
    assert datasets.load_sms_spam() == (labels, texts)               # from the cache
    assert len(calls) == 1


@pytest.mark.parametrize("payload, fragment", [
    (sms_zip(n=5000)[0], "5000 messages"),
    (sms_zip(n_spam=10)[0], "(10 spam)"),
    (sms_zip(name="other")[0], "no SMSSpamCollection"),
    (sms_zip(extra=b"junk\tline\n")[0], "neither"),
    (b"<html>not a zip</html>", "not a readable zip"),
])
def test_sms_download_bad_content_rejected(tmp_path, monkeypatch, payload, fragment):
    serve(monkeypatch, {examples_sets.SMS_SPAM_URL: payload})
    with pytest.raises(datasets.ChecksumError) as e:
        datasets.load_sms_spam()
    assert fragment in str(e.value) and "discarded" in str(e.value)
    assert os.listdir(cache(tmp_path)) == []


def test_sms_download_failure_and_offline(tmp_path, monkeypatch):
    with pytest.raises(datasets.DatasetNotFoundError) as e:
        datasets.load_sms_spam()
    assert "download failed" in str(e.value) and examples_sets.SMS_SPAM_URL in str(e.value)
    assert "$BB_DATA_DIR (not set)" in str(e.value)
    monkeypatch.setenv("BB_OFFLINE", "1")
    calls = serve(monkeypatch, {})
    with pytest.raises(datasets.DatasetNotFoundError, match="BB_OFFLINE=1"):
        datasets.load_sms_spam()
    assert calls == []


def test_sms_explicit_missing_path_no_download(tmp_path, monkeypatch):
    calls = serve(monkeypatch, {examples_sets.SMS_SPAM_URL: sms_zip()[0]})
    with pytest.raises(datasets.DatasetNotFoundError, match="does not exist"):
        datasets.load_sms_spam(tmp_path / "nope")
    assert calls == []


# --------------------------------------------------------- load_house_sales

HOUSE = ("id,date,price,bedrooms,sqft_living\n"
         "1,20141013T000000,221900.0,3,1180\n"
         "2,20141209T000000,538000.0,3,2570\n"
         "\n"
         "3,20150225T000000,180000.0,2,770\n")


def test_house_all_columns(tmp_path):
    f = tmp_path / "kc_house_data.csv"
    f.write_text(HOUSE)
    data = datasets.load_house_sales(tmp_path)
    assert list(data) == ["id", "date", "price", "bedrooms", "sqft_living"]
    assert data["price"].dtype == np.float64
    np.testing.assert_array_equal(data["bedrooms"], [3, 3, 2])
    assert data["date"].dtype.kind == "U" and data["date"][2] == "20150225T000000"


def test_house_selected_columns_and_env(tmp_path, monkeypatch):
    (tmp_path / "kc_house_data.csv").write_text(HOUSE)
    monkeypatch.setenv("BB_DATA_DIR", str(tmp_path))
    data = datasets.load_house_sales(columns=["sqft_living", "price"])
    assert list(data) == ["sqft_living", "price"]
    np.testing.assert_array_equal(data["sqft_living"], [1180, 2570, 770])


@pytest.mark.parametrize("content, columns, fragments", [
    (HOUSE, ["price", "pool"], ["no column 'pool'", "columns are: id"]),
    (HOUSE, ["date"], ["line 2", "'date'", "non-numeric", "'20141013T000000'"]),
    (HOUSE.replace("538000.0", ""), ["price"], ["line 3", "non-numeric", "''"]),
    (HOUSE.replace("538000.0", "nan"), ["price"], ["line 3", "'nan'"]),
    (HOUSE.replace("180000.0,2", "180000.0"), None, ["line 5", "4 fields, expected 5"]),
    (HOUSE.replace("221900.0", '"22"1900'), None, ["line 2", "malformed CSV"]),
    ("", None, ["empty file"]),
    ("a,b\n", None, ["no data rows"]),
    ("a,a\n1,2\n", None, ["line 1", "duplicate column"]),
    ("a,,b\n1,2,3\n", None, ["line 1", "empty column name"]),
])
def test_house_malformed(tmp_path, content, columns, fragments):
    f = tmp_path / "houses.csv"
    f.write_text(content)
    with pytest.raises(ValueError) as e:
        datasets.load_house_sales(f, columns=columns)
    message = str(e.value)
    assert str(f) in message and "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_house_not_utf8(tmp_path):
    f = tmp_path / "houses.csv"
    f.write_bytes(b"a,b\n\xff,1\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        datasets.load_house_sales(f)


def test_house_not_found_says_kaggle(tmp_path, monkeypatch):
    calls = serve(monkeypatch, {})
    with pytest.raises(datasets.DatasetNotFoundError) as e:
        datasets.load_house_sales()
    message = str(e.value)
    assert "kc_house_data.csv not found" in message
    assert "Kaggle" in message and "login" in message
    assert str(cache(tmp_path) / "kc_house_data.csv") in message
    assert calls == []                       # never downloaded


# ---------------------------------------------------------------- real data

def _real(name):
    return REAL_DATA_DIR and os.path.isfile(os.path.join(REAL_DATA_DIR, name))


@pytest.mark.skipif(not _real("SMSSpamCollection"),
                    reason="BB_DATA_DIR is not set or holds no SMSSpamCollection")
def test_real_sms_spam(monkeypatch):
    monkeypatch.setenv("BB_DATA_DIR", REAL_DATA_DIR)
    monkeypatch.setenv("BB_OFFLINE", "1")
    labels, texts = datasets.load_sms_spam()
    assert len(labels) == len(texts) == 5574
    assert labels.count("spam") == 747
    assert any('"' in t for t in texts)        # quotes are kept as characters


@pytest.mark.skipif(not _real("kc_house_data.csv"),
                    reason="BB_DATA_DIR is not set or holds no kc_house_data.csv")
def test_real_house_sales(monkeypatch):
    monkeypatch.setenv("BB_DATA_DIR", REAL_DATA_DIR)
    data = datasets.load_house_sales()
    assert len(data["price"]) == 21613 and data["price"].dtype == np.float64
    assert data["bedrooms"].max() == 33          # the known outlier
    assert data["date"].dtype.kind == "U"
