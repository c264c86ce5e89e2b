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
brokers = {{ include "salespulse.tomlString" .Values.kafka.brokers }}
group_id = {{ include "salespulse.tomlString" .Values.kafka.groupId }}
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
dir = {{ include "salespulse.tomlString" .Values.state.mountPath }}
{{- end }}
