#!/bin/bash
# Entry point of the codemill Spark image, following the contract Spark on Kubernetes expects
# of an image (the first argument names the role; the rest and the SPARK_* environment variables
# come from Spark's pod builder):
#   driver ARGS...   spark-submit in client mode inside the driver pod, bound to the pod's address
#   executor         a KubernetesExecutorBackend JVM configured from SPARK_EXECUTOR_* variables
#   anything else    run as given (a shell, `codemill ...`, a job script)
set -euo pipefail

# Spark's JVMs look up the current user; an arbitrary uid (OpenShift) has no passwd entry.
if ! getent passwd "$(id -u)" >/dev/null && [ -w /etc/passwd ]; then
  echo "spark:x:$(id -u):$(id -g):spark:${HOME:-/tmp}:/bin/false" >> /etc/passwd
fi

conf_dir=${SPARK_CONF_DIR:-$SPARK_HOME/conf}
classpath="$conf_dir:$SPARK_HOME/jars/*${SPARK_EXTRA_CLASSPATH:+:$SPARK_EXTRA_CLASSPATH}"

role=${1:-}
case "$role" in
  driver)
    shift
    exec /usr/bin/tini -s -- "$SPARK_HOME/bin/spark-submit" \
      --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS:?set by Spark for driver pods}" \
      --deploy-mode client "$@"
    ;;
  executor)
    shift
    # SPARK_JAVA_OPT_0, _1, ... carry the executor's JVM options, in index order.
    java_opts=()
    while IFS= read -r option; do
      [ -n "$option" ] && java_opts+=("$option")
    done < <(env | grep '^SPARK_JAVA_OPT_' | sort -t_ -k4 -n | cut -d= -f2-)
    exec /usr/bin/tini -s -- "$JAVA_HOME/bin/java" "${java_opts[@]}" \
      "-Xms$SPARK_EXECUTOR_MEMORY" "-Xmx$SPARK_EXECUTOR_MEMORY" -cp "$classpath" \
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "$SPARK_DRIVER_URL" --executor-id "$SPARK_EXECUTOR_ID" --cores "$SPARK_EXECUTOR_CORES" \
      --app-id "$SPARK_APPLICATION_ID" --hostname "$SPARK_EXECUTOR_POD_IP" \
      --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" --podName "$SPARK_EXECUTOR_POD_NAME"
    ;;
  *)
    exec /usr/bin/tini -s -- "$@"
    ;;
esac
