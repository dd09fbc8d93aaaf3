"""Counts words with a shuffle (reduceByKey) and prints the most frequent ones.

Usage: wordcount.py [FILE] [TOP]   without FILE it generates 200,000 words of text.
FILE may be any path Spark reads (file://, wasbs://, abfss:// with storage keys).
"""
import random
import sys
from operator import add

from pyspark.sql import SparkSession

WORDS = ("spark legion master worker executor driver shuffle stage task job "
         "partition block cluster token secret azure container group").split()


def main():
    path = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] != "-" else None
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    spark = SparkSession.builder.appName("PythonWordCount").getOrCreate()
    sc = spark.sparkContext
    if path:
        lines = sc.textFile(path)
    else:
        rng = random.Random(42)
        # a skewed distribution: earlier words are more frequent
        text = [" ".join(WORDS[min(int(rng.expovariate(0.25)), len(WORDS) - 1)]
                         for _ in range(20)) for _ in range(10000)]
        lines = sc.parallelize(text, 4)
    counts = (lines.flatMap(lambda line: line.split())
                   .map(lambda w: (w.lower(), 1))
                   .reduceByKey(add, 4))
    for word, n in counts.takeOrdered(top, key=lambda kv: (-kv[1], kv[0])):
        print("%s: %d" % (word, n))
    print("distinct words: %d" % counts.count())
    spark.stop()


if __name__ == "__main__":
    main()
