"""Word count from one storage URL to another: any file system Spark has a connector
for, e.g. wasbs://CONTAINER@ACCOUNT.blob.core.windows.net/in.txt (Azure Blob
storage, with AZURE_STORAGE_ACCOUNT_NAME/_KEY set for legion) or a local path.
Writes "WORD COUNT" lines, most frequent first, as one text part under OUTPUT,
and prints them too.
Usage: storage_wordcount.py INPUT OUTPUT"""
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

if len(sys.argv) != 3:
    print("usage: storage_wordcount.py INPUT OUTPUT", file=sys.stderr)
    sys.exit(64)
spark = SparkSession.builder.appName("storage-wordcount").getOrCreate()
words = (spark.read.text(sys.argv[1])
         .select(F.explode(F.split(F.col("value"), r"\s+")).alias("word"))
         .where(F.col("word") != ""))
counts = (words.groupBy("word").count().orderBy(F.desc("count"), "word")
          .select(F.concat_ws(" ", "word", F.col("count").cast("string")).alias("line")))
counts.coalesce(1).write.mode("overwrite").text(sys.argv[2])
for row in spark.read.text(sys.argv[2]).collect():
    print(row.value)
spark.stop()
