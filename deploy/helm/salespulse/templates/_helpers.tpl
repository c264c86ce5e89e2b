{{/* The chart name, or nameOverride. */}}
{{- define "salespulse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The resource name: fullnameOverride, else the release name (plus the chart name unless the release name contains it). */}}
{{- define "salespulse.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "salespulse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "salespulse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "salespulse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "salespulse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The label that tells the replicas' pods apart; each replica's Deployment selects by it. */}}
{{- define "salespulse.replicaLabel" -}}
salespulse/replica
{{- end }}

{{/*
The replicas, checked, as a JSON list of objects: name, writeDeadletters (a boolean),
deployment (the Deployment's name), groupId (its consumer group), stateUrl (its [state] url, or
"") and claimName (its PersistentVolumeClaim, or "" when it has none). Fails on values that
would break the high-availability model: every replica computes the whole result in its own
consumer group with its own state, and exactly one writes the dead-letter topic.
*/}}
{{- define "salespulse.replicas" -}}
{{- if hasKey .Values "replicaCount" }}
{{- fail "replicaCount is gone: list the replicas instead, e.g. replicas: [{name: a, writeDeadletters: true}, {name: b}] for two. Each replica is its own Deployment with its own consumer group and state; several pods of one Deployment would share a consumer group and each get only part of the partitions" }}
{{- end }}
{{- if hasKey .Values "strategy" }}
{{- fail "strategy is gone: every replica's Deployment uses Recreate (a rolling update would run two pods in one consumer group, and a ReadWriteOnce state volume cannot be mounted by both); delete strategy from your values" }}
{{- end }}
{{- if hasKey .Values.state "volume" }}
{{- fail "state.volume is gone: each replica gets its own state volume from state.persistence (a PersistentVolumeClaim per replica), or its own prefix of state.url, or with both off an emptyDir; delete state.volume from your values" }}
{{- end }}
{{- $groupId := required "kafka.groupId is required: replica <name> consumes as <kafka.groupId>-<name>" .Values.kafka.groupId | toString }}
{{- $url := .Values.state.url | default "" | toString | trim }}
{{- if and $url (not (contains "://" $url)) }}
{{- fail (printf "state.url %q is not a URL: expected e.g. s3://bucket/prefix (empty for state.persistence)" $url) }}
{{- end }}
{{- $persistent := and (not $url) .Values.state.persistence.enabled }}
{{- $reserved := list "SALESPULSE_KAFKA__GROUP_ID" "SALESPULSE_KAFKA__WRITE_DEADLETTERS" "SALESPULSE_STATE__URL" "SALESPULSE_STATE__DIR" }}
{{- range $variable := .Values.env }}
{{- if and (kindIs "map" $variable) (has (upper (toString (get $variable "name"))) $reserved) }}
{{- fail (printf "env: %s is set for each replica by the chart (from kafka.groupId, replicas[].writeDeadletters and state); set those values instead" $variable.name) }}
{{- end }}
{{- end }}
{{- $replicas := .Values.replicas }}
{{- if not (kindIs "slice" $replicas) }}
{{- if $replicas }}
{{- fail (printf "replicas must be a list such as [{name: a, writeDeadletters: true}], not %v" $replicas) }}
{{- end }}
{{- $replicas = list }}
{{- end }}
{{- if not $replicas }}
{{- fail "replicas is empty: list at least one replica, e.g. replicas: [{name: a, writeDeadletters: true}]" }}
{{- end }}
{{- $fullname := include "salespulse.fullname" . }}
{{- $seen := dict }}
{{- $writers := list }}
{{- $result := list }}
{{- range $index, $replica := $replicas }}
{{- if not (kindIs "map" $replica) }}
{{- fail (printf "replicas[%d] must be a map such as {name: b}, not %v" $index $replica) }}
{{- end }}
{{- range $key, $_ := $replica }}
{{- if not (has $key (list "name" "writeDeadletters")) }}
{{- fail (printf "replicas[%d]: unknown key %s (a replica has name and writeDeadletters)" $index $key) }}
{{- end }}
{{- end }}
{{- $name := "" }}
{{- if hasKey $replica "name" }}
{{- $name = toString $replica.name }}
{{- end }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" $name) }}
{{- fail (printf "replicas[%d]: name %q is not a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit); it names the replica's Deployment, consumer group and state" $index $name) }}
{{- end }}
{{- if hasKey $seen $name }}
{{- fail (printf "replicas: the name %q is used twice (replicas[%v] and replicas[%d]); each replica needs its own name, which gives it its own consumer group and state" $name (get $seen $name) $index) }}
{{- end }}
{{- $_ := set $seen $name $index }}
{{- $deployment := printf "%s-%s" $fullname $name }}
{{- if gt (len $deployment) 63 }}
{{- fail (printf "replicas[%d]: the Deployment name %s is longer than 63 characters; use a shorter replica name or fullnameOverride" $index $deployment) }}
{{- end }}
{{- $writes := false }}
{{- if hasKey $replica "writeDeadletters" }}
{{- if not (kindIs "bool" $replica.writeDeadletters) }}
{{- fail (printf "replicas[%d].writeDeadletters must be true or false, not %v" $index $replica.writeDeadletters) }}
{{- end }}
{{- $writes = $replica.writeDeadletters }}
{{- end }}
{{- if $writes }}
{{- $writers = append $writers $name }}
{{- end }}
{{- $result = append $result (dict
  "name" $name
  "writeDeadletters" $writes
  "deployment" $deployment
  "groupId" (printf "%s-%s" $groupId $name)
  "stateUrl" (ternary (printf "%s/%s" (trimSuffix "/" $url) $name) "" (ne $url ""))
  "claimName" (ternary (printf "%s-state" $deployment) "" $persistent)
) }}
{{- end }}
{{- if not $writers }}
{{- fail (printf "replicas: no replica writes the dead-letter topic %s; set writeDeadletters: true on exactly one (e.g. the first), or rejected messages are counted but never forwarded" .Values.kafka.deadletterTopic) }}
{{- end }}
{{- if gt (len $writers) 1 }}
{{- fail (printf "replicas: %s all set writeDeadletters: true; set it on exactly one, since every replica sees every message and each writer would forward each rejected message again, duplicating the dead letters in %s" (join ", " $writers) .Values.kafka.deadletterTopic) }}
{{- end }}
{{- toJson $result }}
{{- end }}

{{/* Whether Kafka SASL credentials are configured. */}}
{{- define "salespulse.saslEnabled" -}}
{{- if or .Values.kafka.sasl.existingSecret .Values.kafka.sasl.username }}true{{ end }}
{{- end }}

{{/* The Secret holding the SASL credentials. */}}
{{- define "salespulse.saslSecretName" -}}
{{- default (printf "%s-kafka-sasl" (include "salespulse.fullname" .)) .Values.kafka.sasl.existingSecret }}
{{- end }}

{{/* A TOML basic string; JSON string escapes are valid TOML. */}}
{{- define "salespulse.tomlString" -}}
{{- toString . | toJson }}
{{- end }}

{{/* salespulse.toml: values.config, then the [kafka], [http] and [state] sections from values. */}}
{{- define "salespulse.config" -}}
{{- if regexMatch "(?m)^\\s*\\[\\s*(kafka|http|state)\\s*[].]" .Values.config }}
{{- fail "config: [kafka], [http] and [state] are rendered from the kafka, http and state values; set them there" }}
{{- end }}
{{- with .Values.config | trim }}
{{- . }}

{{ end -}}
[kafka]
# group_id (<kafka.groupId>-<replica name>) and write_deadletters are each replica's own: its
# Deployment sets them as SALESPULSE_KAFKA__GROUP_ID and SALESPULSE_KAFKA__WRITE_DEADLETTERS.
brokers = {{ include "salespulse.tomlString" .Values.kafka.brokers }}
topics = [{{ range $i, $topic := .Values.kafka.topics }}{{ if $i }}, {{ end }}{{ include "salespulse.tomlString" $topic }}{{ end }}]
deadletter_topic = {{ include "salespulse.tomlString" .Values.kafka.deadletterTopic }}
{{- $properties := deepCopy .Values.kafka.properties }}
{{- if include "salespulse.saslEnabled" . }}
{{- $_ := set $properties "security.protocol" .Values.kafka.sasl.securityProtocol }}
{{- $_ := set $properties "sasl.mechanism" .Values.kafka.sasl.mechanism }}
{{- end }}
{{- if $properties }}

[kafka.properties]
{{- range $name, $value := $properties }}
{{ include "salespulse.tomlString" $name }} = {{ include "salespulse.tomlString" $value }}
{{- end }}
{{- end }}

[http]
listen = {{ include "salespulse.tomlString" (printf "0.0.0.0:%d" (int .Values.http.port)) }}

[state]
# Each replica's own volume; with the chart's state.url, SALESPULSE_STATE__URL (<url>/<replica
# name>) is used instead.
dir = {{ include "salespulse.tomlString" .Values.state.mountPath }}
{{- end }}
