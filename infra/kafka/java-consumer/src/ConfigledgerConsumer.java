import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads configledger's two topics as a service in another language would: every event of
 * configledger.events.v1 decoded with the .avsc file its headers name, and the JSON values
 * of configledger.config-state.v1. Prints one JSON line per record whose key starts with the
 * given prefixes, until it has read up to the end offsets it found at start.
 *
 * Usage: ConfigledgerConsumer <brokers> <avsc directory> <key prefix>[,<key prefix>...]
 */
public final class ConfigledgerConsumer {
  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    String brokers = args[0];
    File avscDirectory = new File(args[1]);
    List<String> prefixes = List.of(args[2].split(","));
    Map<String, Schema> schemas = new HashMap<>();

    Properties properties = new Properties();
    properties.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    properties.put(ConsumerConfig.GROUP_ID_CONFIG, "java-check-" + UUID.randomUUID());
    properties.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    properties.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    properties.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    properties.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());

    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(properties)) {
      List<String> topics = List.of("configledger.events.v1", "configledger.config-state.v1");
      consumer.subscribe(topics);
      Map<org.apache.kafka.common.TopicPartition, Long> end = null;
      long deadline = System.currentTimeMillis() + 60_000;
      while (System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(500))) {
          String key = record.key() == null ? "" : new String(record.key(), StandardCharsets.UTF_8);
          if (prefixes.stream().noneMatch(key::startsWith)) continue;
          System.out.println(record.topic().equals("configledger.events.v1") ? event(record, key, avscDirectory, schemas) : state(record, key));
        }
        if (end == null && !consumer.assignment().isEmpty()) end = consumer.endOffsets(consumer.assignment());
        if (end != null && end.entrySet().stream().allMatch(entry -> consumer.position(entry.getKey()) >= entry.getValue())) return;
      }
      throw new IllegalStateException("did not reach the end of the topics within 60 s");
    }
  }

  private static String header(ConsumerRecord<byte[], byte[]> record, String name) {
    Header header = record.headers().lastHeader(name);
    if (header == null) throw new IllegalStateException("record without header " + name);
    return new String(header.value(), StandardCharsets.UTF_8);
  }

  /** The event decoded with the schema named by its event-type and schema-version headers. */
  private static String event(ConsumerRecord<byte[], byte[]> record, String key, File directory, Map<String, Schema> schemas) throws Exception {
    String file = header(record, "event-type") + ".v" + header(record, "schema-version") + ".avsc";
    Schema schema = schemas.get(file);
    if (schema == null) {
      schema = new Schema.Parser().parse(new File(directory, file));
      schemas.put(file, schema);
    }
    GenericRecord decoded = new GenericDatumReader<GenericRecord>(schema).read(null, DecoderFactory.get().binaryDecoder(record.value(), null));
    ObjectNode line = JSON.createObjectNode();
    line.put("topic", "events");
    line.put("key", key);
    line.put("schemaFile", file);
    line.put("eventId", decoded.get("eventId").toString());
    line.put("eventType", decoded.get("eventType").toString());
    line.put("position", (Long) decoded.get("position"));
    line.put("revision", (Long) decoded.get("revision"));
    line.set("data", JSON.readTree(decoded.get("data").toString()));
    return JSON.writeValueAsString(line);
  }

  private static String state(ConsumerRecord<byte[], byte[]> record, String key) throws Exception {
    ObjectNode line = JSON.createObjectNode();
    line.put("topic", "state");
    line.put("key", key);
    JsonNode value = record.value() == null ? null : JSON.readTree(record.value());
    line.set("value", value);
    return JSON.writeValueAsString(line);
  }
}
