// `sluice broker` (the embedded Kafka-wire broker) and `sluice topic ...` (topic administration,
// produce/consume and group lag over librdkafka, so they work against any Kafka cluster too).
#include <fmt/format.h>

#include <cstdio>
#include <iostream>

#include "bus/broker.h"
#include "bus/client.h"
#include "cli/cli.h"
#include "common/log.h"

namespace sluice::cli {
namespace {

struct TopicArgs {
  std::string bootstrap;
  std::string name;
  int partitions = -1;
  int replication = -1;
  std::vector<std::string> configs;
  std::string key_separator;
  std::string group;
  bool latest = false;
  bool print_keys = false;
  int64_t max_messages = -1;
  int idle_timeout_ms = 3000;
};

Result<bus::ClientOptions> client_options(const CliState& state, const TopicArgs& a) {
  SLUICE_ASSIGN_OR_RETURN(auto config, load_config(state.global));
  bus::ClientOptions o;
  o.bootstrap = a.bootstrap.empty() ? config.get_string("bus.bootstrap") : a.bootstrap;
  return o;
}

// Runs `body` and records its exit code.
void run_command(CliState& state, const std::function<Status()>& body) {
  Status st = body();
  if (!st.is_ok()) state.exit_code = report(st);
}

void add_broker_command(CLI::App& app, CliState& state) {
  auto* cmd = app.add_subcommand("broker", "Run the embedded Kafka-wire broker (the event bus)");
  auto listen = std::make_shared<std::string>();
  cmd->add_option("--listen", *listen, "HOST:PORT to listen on (default: bus.listen)");
  cmd->callback([&state, listen] {
    run_command(state, [&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto config, load_config(state.global));
      if (!listen->empty()) SLUICE_RETURN_IF_ERROR(config.set_from_flag("bus.listen", *listen));
      SLUICE_ASSIGN_OR_RETURN(auto dir, open_data_dir(config));
      SLUICE_ASSIGN_OR_RETURN(auto options, bus::BrokerOptions::from_config(config, dir.root()));
      SLUICE_ASSIGN_OR_RETURN(auto broker, bus::Broker::open(options));
      // The bound address is the command's result (a port of 0 picks a free one).
      std::cout << fmt::format("sluice broker listening on {}:{}", options.listen_host,
                               broker->port())
                << std::endl;
      return broker->run();
    });
  });
}

void add_topic_command(CLI::App& app, CliState& state) {
  auto* topic = app.add_subcommand("topic",
                                   "Create, list, describe, delete, produce to, consume "
                                   "from topics; show consumer group lag");
  topic->require_subcommand(1);
  auto a = std::make_shared<TopicArgs>();
  auto bootstrap = [a](CLI::App* c) {
    c->add_option("--bootstrap", a->bootstrap, "Kafka bootstrap servers (default: bus.bootstrap)");
  };

  auto* create = topic->add_subcommand("create", "Create a topic");
  create->add_option("name", a->name, "Topic name")->required();
  create->add_option("--partitions", a->partitions,
                     "Partition count (default: the broker's default)");
  create->add_option("--replication-factor", a->replication, "Replicas (default: the broker's)");
  create->add_option("--config", a->configs,
                     "Topic config KEY=VALUE (repeatable), e.g. "
                     "cleanup.policy=compact");
  bootstrap(create);
  create->callback([&state, a] {
    run_command(state, [&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto o, client_options(state, *a));
      std::map<std::string, std::string> configs;
      for (const auto& kv : a->configs) {
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
          return invalid_argument(fmt::format("--config '{}' is not KEY=VALUE", kv));
        }
        configs[kv.substr(0, eq)] = kv.substr(eq + 1);
      }
      SLUICE_RETURN_IF_ERROR(bus::create_topic(o, a->name, a->partitions, a->replication, configs));
      std::cout << fmt::format("created topic {}\n", a->name);
      return Status::ok();
    });
  });

  auto* list = topic->add_subcommand("list", "List topics, one per line");
  bootstrap(list);
  list->callback([&state, a] {
    run_command(state, [&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto o, client_options(state, *a));
      SLUICE_ASSIGN_OR_RETURN(auto names, bus::list_topics(o));
      for (const auto& n : names)
        std::cout << n << "\n";
      return Status::ok();
    });
  });

  auto* describe = topic->add_subcommand("describe", "Partitions, offsets and configs of a topic");
  describe->add_option("name", a->name, "Topic name")->required();
  bootstrap(describe);
  describe->callback([&state, a] {
    run_command(state, [&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto o, client_options(state, *a));
      SLUICE_ASSIGN_OR_RETURN(auto d, bus::describe_topic(o, a->name));
      std::cout << fmt::format("topic {}  partitions {}\n", d.name, d.partitions.size());
      std::cout << fmt::format("{:>9}  {:>6}  {:>14}  {:>14}\n", "partition", "leader",
                               "start_offset", "end_offset");
      for (const auto& p : d.partitions)
        std::cout << fmt::format("{:>9}  {:>6}  {:>14}  {:>14}\n", p.id, p.leader, p.low, p.high);
      for (const auto& [k, v] : d.configs)
        std::cout << fmt::format("config {} = {}\n", k, v);
      return Status::ok();
    });
  });

  auto* del = topic->add_subcommand("delete", "Delete a topic and its data");
  del->add_option("name", a->name, "Topic name")->required();
  bootstrap(del);
  del->callback([&state, a] {
    run_command(state, [&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto o, client_options(state, *a));
      SLUICE_RETURN_IF_ERROR(bus::delete_topic(o, a->name));
      std::cout << fmt::format("deleted topic {}\n", a->name);
      return Status::ok();
    });
  });

  auto* produce = topic->add_subcommand("produce", "Produce one message per line of stdin");
  produce->add_option("name", a->name, "Topic name")->required();
  produce->add_option("--key-separator", a->key_separator,
                      "Split each line at this character into key and value");
  bootstrap(produce);
  produce->callback([&state, a] {
    run_command(state, [&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto o, client_options(state, *a));
      if (a->key_separator.size() > 1) {
        return invalid_argument("--key-separator must be a single character");
      }
      std::optional<char> sep;
      if (!a->key_separator.empty()) sep = a->key_separator[0];
      SLUICE_ASSIGN_OR_RETURN(int64_t n, bus::produce_lines(o, a->name, std::cin, sep));
      log::info("produced", {log::kv("topic", a->name), log::kv("messages", n)});
      return Status::ok();
    });
  });

  auto* consume = topic->add_subcommand("consume", "Print messages of a topic, one per line");
  consume->add_option("name", a->name, "Topic name")->required();
  consume->add_option("--group", a->group, "Consume as this consumer group (commits offsets)");
  consume->add_flag("--latest", a->latest, "Start at the end instead of the beginning");
  consume->add_flag("--print-keys", a->print_keys, "Print KEY<TAB>VALUE");
  consume->add_option("--max-messages", a->max_messages, "Stop after this many messages");
  consume->add_option("--idle-timeout-ms", a->idle_timeout_ms,
                      "Stop after this long without a new message");
  bootstrap(consume);
  consume->callback([&state, a] {
    run_command(state, [&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto o, client_options(state, *a));
      bus::ConsumeOptions c;
      c.topic = a->name;
      c.group = a->group;
      c.from_beginning = !a->latest;
      c.max_messages = a->max_messages;
      c.idle_timeout_ms = a->idle_timeout_ms;
      bool keys = a->print_keys;
      SLUICE_ASSIGN_OR_RETURN(int64_t n, bus::consume(o, c, [keys](const bus::ConsumedMessage& m) {
                                if (keys) std::cout << m.key.value_or("") << "\t";
                                std::cout << m.value.value_or("") << "\n";
                              }));
      std::cout.flush();
      log::info("consumed", {log::kv("topic", a->name), log::kv("messages", n)});
      return Status::ok();
    });
  });

  auto* lag = topic->add_subcommand("lag", "Committed offsets and lag of a consumer group");
  lag->add_option("group", a->group, "Consumer group id")->required();
  bootstrap(lag);
  lag->callback([&state, a] {
    run_command(state, [&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(auto o, client_options(state, *a));
      SLUICE_ASSIGN_OR_RETURN(auto rows, bus::group_lag(o, a->group));
      std::cout << fmt::format("{:<30} {:>9} {:>12} {:>12} {:>10}\n", "topic", "partition",
                               "committed", "end_offset", "lag");
      int64_t total = 0;
      for (const auto& r : rows) {
        std::cout << fmt::format("{:<30} {:>9} {:>12} {:>12} {:>10}\n", r.topic, r.partition,
                                 r.committed, r.end, r.lag);
        total += r.lag;
      }
      std::cout << fmt::format("total lag {}\n", total);
      return Status::ok();
    });
  });
}

}  // namespace

void add_bus_commands(CLI::App& app, CliState& state) {
  add_broker_command(app, state);
  add_topic_command(app, state);
}

}  // namespace sluice::cli
