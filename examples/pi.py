"""Estimates pi by throwing darts at the unit square, like Spark's own example.

Usage: pi.py [PARTITIONS]   (default 2; 100,000 darts per partition)
"""
import random
import sys
from operator import add

from pyspark.sql import SparkSession


def main():
    partitions = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    if partitions < 1:
        sys.exit("pi.py: partitions must be at least 1")
    n = 100000 * partitions
    spark = SparkSession.builder.appName("PythonPi").getOrCreate()

    def inside(_):
        x = random.random() * 2 - 1
        y = random.random() * 2 - 1
        return 1 if x * x + y * y <= 1 else 0

    count = spark.sparkContext.parallelize(range(1, n + 1), partitions).map(inside).reduce(add)
    print("Pi is roughly %f" % (4.0 * count / n))
    spark.stop()


if __name__ == "__main__":
    main()
