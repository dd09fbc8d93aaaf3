"""A pandas UDF and a grouped map through Arrow: needs numpy, pandas and pyarrow
on the driver and the executors (the image and `make spark` install them).
Usage: pandas_udf.py   (no arguments)"""
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql.functions import pandas_udf

spark = (SparkSession.builder.appName("pandas-udf")
         .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())


@pandas_udf("double")
def fahrenheit(celsius: pd.Series) -> pd.Series:
    return celsius * 9 / 5 + 32


def mean_of(group: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"parity": [int(group["id"].iloc[0] % 2)],
                         "mean": [group["celsius"].mean()]})


df = spark.createDataFrame([(i, i * 10.0) for i in range(10)],
                           "id long, celsius double").repartition(2)
f = df.select("id", fahrenheit("celsius").alias("f")).orderBy("id").toPandas()
print("fahrenheit:", " ".join(f"{v:g}" for v in f["f"]))
means = (df.groupBy(df.id % 2).applyInPandas(mean_of, "parity long, mean double")
         .orderBy("parity").collect())
print("mean by parity:", " ".join(f"{r.parity}={r.mean:g}" for r in means))
spark.stop()
