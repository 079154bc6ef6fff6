# tests/clickhouse/server.sh — the files of a private clickhouse-server
# (18.16 from Debian) for the suites and the bench that start one on
# loopback: tests/clickhouse/run.sh, cluster.sh, faults.sh and
# bench/clickhouse.sh source it.
#
#   ch_config DIR HTTP TCP INTERSERVER [XML] [PROFILE_XML] [USERS_XML]
#
# writes DIR/config.xml and DIR/users.xml (DIR an absolute path): the
# server listens on 127.0.0.1 only, on the three ports given, and keeps
# its data, temporary files and logs (server.log, error.log) in DIR. XML is
# added to config.xml, PROFILE_XML to the default profile, USERS_XML beside
# the user `default` (no password, loopback only). Start it with
# `clickhouse-server --config-file=DIR/config.xml`.

ch_config() {
    local d=$1 http=$2 tcp=$3 inter=$4 extra=${5:-} profile=${6:-} users=${7:-}
    mkdir -p "$d"
    cat >"$d/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>$d/server.log</log><errorlog>$d/error.log</errorlog></logger>
    <http_port>$http</http_port>
    <tcp_port>$tcp</tcp_port>
    <interserver_http_port>$inter</interserver_http_port>
    <listen_host>127.0.0.1</listen_host>
    <path>$d/data/</path>
    <tmp_path>$d/tmp/</tmp_path>
    <user_files_path>$d/user_files/</user_files_path>
    <users_config>$d/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    $extra
</yandex>
XML
    cat >"$d/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles><default>$profile</default></profiles>
    <users>
        <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
        $users
    </users>
    <quotas><default></default></quotas>
</yandex>
XML
}
