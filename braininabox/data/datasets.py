"""bb.datasets: every data set loader in one namespace.

The library's own (MNIST, Fashion-MNIST) are in mnist.py, the Free Spoken Digit Dataset
in fsdd.py, the learning programs' (SMS spam, SpamAssassin e-mails, house sales) in
examples_sets.py; finding and downloading files in download.py.
"""
from .download import ChecksumError, DatasetNotFoundError, download, find_data_file
from .fsdd import FSDD, load_fsdd
from .examples_sets import load_house_sales, load_sms_spam, load_spamassassin_sample
from .mnist import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist

__all__ = ["load_mnist", "load_fashion_mnist", "FASHION_MNIST_CLASSES", "DatasetNotFoundError",
           "ChecksumError", "download", "find_data_file", "load_sms_spam",
           "load_spamassassin_sample", "load_house_sales", "load_fsdd", "FSDD"]
