// udp_batch: the media worker's RTP sockets without node:dgram (issue #13). One epoll set per poller,
// watched by one uv_poll on the worker's own loop; when it is readable every ready socket is drained with
// recvmmsg into one receive buffer shared with JS (fixed-size slots) and a descriptor table, and JS is
// called ONCE per batch with the packet count. Relayed packets are sent in place from that buffer: JS
// queues (fd, offset, length) in a send table and calls flush() once per batch. Nothing is allocated per
// packet on either side. Linux only (recvmmsg, epoll); elsewhere the addon is not built and the relay
// uses node:dgram.
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <new>
#include <unordered_set>

namespace {

// Descriptor table row (Uint32 words): fd, offset, length, port | family flag, then 16 address bytes.
constexpr int kMetaWords = 8;
constexpr uint32_t kIpv6Flag = 0x10000;
// Send table row (Int32 words): fd, offset, length, result (0 or -errno, written by flush).
constexpr int kSendWords = 4;
// epoll events taken per epoll_wait, and rounds of epoll_wait per wake-up before yielding to the loop
// (level-triggered: what is left wakes the poll again on the next loop iteration).
constexpr int kEvents = 256;
constexpr int kRounds = 4;
// Room for an address as text: an IPv6 literal, '%' and a scope (an interface name or index).
constexpr size_t kAddressText = INET6_ADDRSTRLEN + IF_NAMESIZE + 1;
// Datagrams a socket that is only drained (RTCP) may take per wake-up, so a flood cannot hold the loop.
constexpr int kDrainMax = 64;

struct Poller {
  napi_env env = nullptr;
  uv_poll_t poll;
  int epfd = -1;
  bool closing = false;
  // The struct lives until both the JS external is finalized and libuv has closed the poll handle (or the
  // thread is torn down, which leaves it to the ending thread): a closed poller's external still points here.
  bool externalGone = false;
  bool handleClosed = false;
  bool tornDown = false;
  napi_ref callback = nullptr;
  napi_ref buffers[3] = {nullptr, nullptr, nullptr};
  napi_async_context context = nullptr;
  uint8_t* recv = nullptr;
  uint32_t* meta = nullptr;
  int32_t* sends = nullptr;
  uint32_t slots = 0;
  uint32_t slotSize = 0;
  uint32_t sendSlots = 0;
  mmsghdr* hdrs = nullptr;
  iovec* iovs = nullptr;
  sockaddr_storage* names = nullptr;
  std::unordered_set<int> fds;
  uint64_t sendDrops = 0;
  uint64_t truncated = 0;
};

napi_value Undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

napi_value Int(napi_env env, int64_t v) {
  napi_value n;
  napi_create_int64(env, v, &n);
  return n;
}

void ThrowErrno(napi_env env, int err, const char* what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, message, error;
  const char* name = err == EADDRINUSE ? "EADDRINUSE" : err == EACCES ? "EACCES" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : err == EINVAL ? "EINVAL" : err == EAFNOSUPPORT ? "EAFNOSUPPORT" : "EIO";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_value errnoValue = Int(env, err);
  napi_set_named_property(env, error, "errno", errnoValue);
  napi_throw(env, error);
}

bool Args(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < want) {
    napi_throw_type_error(env, nullptr, "udp_batch: missing arguments");
    return false;
  }
  return true;
}

// The poller behind a JS handle, or null with a JS error thrown. A closed poller is refused unless
// `closedOk`: its sockets and tables are gone.
Poller* GetPoller(napi_env env, napi_value v, bool closedOk = false) {
  void* p = nullptr;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == nullptr) {
    napi_throw_type_error(env, nullptr, "udp_batch: not a poller");
    return nullptr;
  }
  auto* poller = static_cast<Poller*>(p);
  if (!closedOk && poller->epfd < 0) {
    napi_throw_error(env, "ECLOSED", "udp_batch: poller closed");
    return nullptr;
  }
  return poller;
}

int32_t GetInt(napi_env env, napi_value v) {
  int32_t n = 0;
  napi_get_value_int32(env, v, &n);
  return n;
}

// The scope of a scoped IPv6 literal (fe80::1%eth0 or fe80::1%2), as node:dgram takes it: an interface
// name or a numeric index. 0 when it names no interface.
uint32_t ScopeId(const char* scope) {
  if (*scope == '\0') return 0;
  char* end = nullptr;
  unsigned long index = strtoul(scope, &end, 10);
  if (*end == '\0') return static_cast<uint32_t>(index);
  return if_nametoindex(scope);
}

// An IP literal and port into a sockaddr of the socket's family (IPv4 on an IPv6 socket: ::ffff:a.b.c.d).
// An IPv6 literal may carry a scope (%eth0 or %2), kept in sin6_scope_id: a link-local address needs it.
bool ToSockaddr(napi_env env, napi_value addr, int port, bool v6, sockaddr_storage* ss, socklen_t* len) {
  char text[kAddressText];
  size_t n = 0;
  if (napi_get_value_string_utf8(env, addr, text, sizeof text, &n) != napi_ok || n + 1 >= sizeof text) return false;
  memset(ss, 0, sizeof *ss);
  char* percent = strchr(text, '%');
  if (percent && !v6) return false;
  if (v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(static_cast<uint16_t>(port));
    if (percent) {
      *percent = '\0';
      s6->sin6_scope_id = ScopeId(percent + 1);
      if (s6->sin6_scope_id == 0) return false;
    }
    if (inet_pton(AF_INET6, text, &s6->sin6_addr) != 1) return false;
    *len = sizeof *s6;
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, text, &s4->sin_addr) != 1) return false;
    *len = sizeof *s4;
  }
  return true;
}

bool IsV6Socket(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  return getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0 && ss.ss_family == AF_INET6;
}

// ---- the batch ------------------------------------------------------------------------------------

// Reads nothing more, sockets left open (Shutdown closes them). A poller is never `closing` with its poll
// running: the epoll fd is level-triggered, so a running poll whose callback returns at once spins the loop.
void StopPolling(Poller* p) {
  p->closing = true;
  uv_poll_stop(&p->poll);
}

void Deliver(Poller* p, uint32_t count) {
  napi_env env = p->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, argv[1], result;
  napi_get_reference_value(env, p->callback, &cb);
  napi_get_global(env, &recv);
  argv[0] = Int(env, count);
  // make_callback: microtasks and process.nextTick callbacks queued by the handler run when it returns, as
  // after any libuv callback.
  if (napi_make_callback(env, p->context, recv, cb, 1, argv, &result) != napi_ok) {
    // onBatch catches the relay's errors, but its flush, or a nextTick queued during the batch, may still
    // throw. That is an uncaught exception of this thread, as it would be from a dgram 'message' handler:
    // handed to Node's uncaught-exception path (a worker ends and the engine restarts it). Swallowing it and
    // stopping would leave a worker alive that reads no RTP and accepts no endpoint.
    bool pending = false;
    napi_value err;
    bool raised = napi_is_exception_pending(env, &pending) == napi_ok && pending &&
                  napi_get_and_clear_last_exception(env, &err) == napi_ok && napi_fatal_exception(env, err) == napi_ok;
    // No exception to raise: JS cannot run any more (the thread is terminating). The poll is stopped, or the
    // level-triggered epoll fd would wake this loop on every turn.
    if (!raised) StopPolling(p);
  }
  napi_close_handle_scope(env, scope);
}

void Record(Poller* p, uint32_t i, int fd) {
  const mmsghdr& h = p->hdrs[i];
  uint32_t* row = p->meta + i * kMetaWords;
  row[0] = static_cast<uint32_t>(fd);
  row[1] = i * p->slotSize;
  // A datagram longer than a slot was cut: reported with length 0 (not RTP), never half a packet.
  row[2] = (h.msg_hdr.msg_flags & MSG_TRUNC) ? 0 : h.msg_len;
  if (h.msg_hdr.msg_flags & MSG_TRUNC) p->truncated++;
  const sockaddr_storage& ss = p->names[i];
  uint8_t* addr = reinterpret_cast<uint8_t*>(row + 4);
  if (ss.ss_family == AF_INET6) {
    const auto& s6 = reinterpret_cast<const sockaddr_in6&>(ss);
    row[3] = ntohs(s6.sin6_port) | kIpv6Flag;
    memcpy(addr, &s6.sin6_addr, 16);
  } else {
    const auto& s4 = reinterpret_cast<const sockaddr_in&>(ss);
    row[3] = ntohs(s4.sin_port);
    memset(addr, 0, 16);
    memcpy(addr, &s4.sin_addr, 4);
  }
}

void Drain(int fd) {
  static thread_local uint8_t scratch[2048];
  for (int i = 0; i < kDrainMax; i++) {
    ssize_t r = recv(fd, scratch, sizeof scratch, MSG_DONTWAIT);
    if (r < 0 && errno != ECONNREFUSED && errno != EINTR) return;
  }
}

void OnReadable(uv_poll_t* handle, int status, int) {
  Poller* p = static_cast<Poller*>(handle->data);
  if (p->closing) {
    StopPolling(p);
    return;
  }
  if (status < 0) return;
  epoll_event events[kEvents];
  uint32_t count = 0;
  for (int round = 0; round < kRounds && !p->closing; round++) {
    int n = epoll_wait(p->epfd, events, kEvents, 0);
    if (n <= 0) break;
    for (int e = 0; e < n && !p->closing; e++) {
      int fd = static_cast<int>(events[e].data.u64 & 0xffffffff);
      // Closed by the handler of an earlier batch in this wake-up.
      if (p->fds.count(fd) == 0) continue;
      if ((events[e].data.u64 >> 32) == 0) {
        Drain(fd);
        continue;
      }
      for (int tries = 0; tries < 8; tries++) {
        if (count == p->slots) {
          Deliver(p, count);
          count = 0;
          if (p->closing || p->fds.count(fd) == 0) break;
        }
        uint32_t space = p->slots - count;
        for (uint32_t i = count; i < p->slots; i++) {
          p->hdrs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
          p->hdrs[i].msg_hdr.msg_flags = 0;
        }
        int r = recvmmsg(fd, p->hdrs + count, space, MSG_DONTWAIT, nullptr);
        if (r < 0) {
          // A connected socket reports an ICMP port unreachable from its peer once: read on.
          if (errno == ECONNREFUSED || errno == EINTR) continue;
          break;
        }
        for (int i = 0; i < r; i++) Record(p, count + i, fd);
        count += r;
        if (static_cast<uint32_t>(r) < space) break;
      }
    }
    if (count > 0 && !p->closing) {
      Deliver(p, count);
      count = 0;
    }
    if (n < kEvents) break;
  }
}

// ---- JS functions ---------------------------------------------------------------------------------

void FreeTables(Poller* p) {
  delete[] p->hdrs;
  delete[] p->iovs;
  delete[] p->names;
  p->hdrs = nullptr;
  p->iovs = nullptr;
  p->names = nullptr;
}

void FreePoller(Poller* p) {
  FreeTables(p);
  delete p;
}

void OnClosed(uv_handle_t* handle) {
  Poller* p = static_cast<Poller*>(handle->data);
  FreeTables(p);
  p->handleClosed = true;
  if (p->externalGone) delete p;
}

// Stops the poll and closes every socket the poller opened; the Poller is freed once libuv has closed it.
// `teardown`: the thread is ending, JS can no longer run, and Node releases the references itself.
void Shutdown(Poller* p, bool teardown) {
  if (p->epfd < 0) return;
  p->closing = true;
  for (int fd : p->fds) close(fd);
  p->fds.clear();
  if (!teardown) {
    for (auto& r : p->buffers) {
      if (r) napi_delete_reference(p->env, r);
      r = nullptr;
    }
    if (p->callback) napi_delete_reference(p->env, p->callback);
    p->callback = nullptr;
    if (p->context) napi_async_destroy(p->env, p->context);
    p->context = nullptr;
  }
  uv_poll_stop(&p->poll);
  if (teardown) {
    // Node unloads the addon before its loop finishes closing handles, so no callback of ours may run
    // then: the small Poller (the handle's memory) is left to the ending thread, its arrays freed now.
    p->tornDown = true;
    FreeTables(p);
    uv_close(reinterpret_cast<uv_handle_t*>(&p->poll), nullptr);
  } else {
    uv_close(reinterpret_cast<uv_handle_t*>(&p->poll), OnClosed);
  }
  close(p->epfd);
  p->epfd = -1;
}

void CleanupHook(void* arg) { Shutdown(static_cast<Poller*>(arg), true); }

// The JS handle is collected: the Poller goes once its poll handle is closed too. Torn down: left to the
// ending thread, as the handle may not have finished closing.
void FinalizePoller(napi_env env, void* data, void*) {
  Poller* p = static_cast<Poller*>(data);
  if (p->tornDown) return;
  p->externalGone = true;
  if (p->epfd >= 0) {
    // Dropped without closePoller (its callback no longer reaches it): closed now, freed in OnClosed.
    napi_remove_env_cleanup_hook(env, CleanupHook, p);
    Shutdown(p, false);
  } else if (p->handleClosed) {
    delete p;
  }
}

// createPoller(recv: ArrayBuffer, slotSize, meta: ArrayBuffer, sends: ArrayBuffer, onBatch(count)) → poller
napi_value CreatePoller(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!Args(env, info, 5, argv)) return nullptr;
  void* bufs[3];
  size_t lens[3];
  const int which[3] = {0, 2, 3};
  for (int i = 0; i < 3; i++) {
    bool is = false;
    napi_is_arraybuffer(env, argv[which[i]], &is);
    if (!is || napi_get_arraybuffer_info(env, argv[which[i]], &bufs[i], &lens[i]) != napi_ok) {
      napi_throw_type_error(env, nullptr, "udp_batch: createPoller takes ArrayBuffers");
      return nullptr;
    }
  }
  uint32_t slotSize = static_cast<uint32_t>(GetInt(env, argv[1]));
  if (slotSize < 64 || lens[0] / slotSize == 0) {
    napi_throw_range_error(env, nullptr, "udp_batch: bad slot size");
    return nullptr;
  }
  uint32_t slots = static_cast<uint32_t>(lens[0] / slotSize);
  if (lens[1] < slots * kMetaWords * sizeof(uint32_t)) {
    napi_throw_range_error(env, nullptr, "udp_batch: descriptor table too small");
    return nullptr;
  }
  Poller* p = new (std::nothrow) Poller();
  if (!p) return nullptr;
  p->env = env;
  p->recv = static_cast<uint8_t*>(bufs[0]);
  p->meta = static_cast<uint32_t*>(bufs[1]);
  p->sends = static_cast<int32_t*>(bufs[2]);
  p->slots = slots;
  p->slotSize = slotSize;
  p->sendSlots = static_cast<uint32_t>(lens[2] / (kSendWords * sizeof(int32_t)));
  p->hdrs = new mmsghdr[slots];
  p->iovs = new iovec[slots];
  p->names = new sockaddr_storage[slots];
  memset(p->hdrs, 0, sizeof(mmsghdr) * slots);
  for (uint32_t i = 0; i < slots; i++) {
    p->iovs[i].iov_base = p->recv + i * slotSize;
    p->iovs[i].iov_len = slotSize;
    p->hdrs[i].msg_hdr.msg_iov = &p->iovs[i];
    p->hdrs[i].msg_hdr.msg_iovlen = 1;
    p->hdrs[i].msg_hdr.msg_name = &p->names[i];
  }
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (p->epfd < 0) {
    int err = errno;
    FreePoller(p);
    ThrowErrno(env, err, "epoll_create1");
    return nullptr;
  }
  for (int i = 0; i < 3; i++) napi_create_reference(env, argv[which[i]], 1, &p->buffers[i]);
  napi_create_reference(env, argv[4], 1, &p->callback);
  napi_value name;
  napi_create_string_utf8(env, "udp_batch", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, nullptr, name, &p->context);
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  uv_poll_init(loop, &p->poll, p->epfd);
  p->poll.data = p;
  uv_poll_start(&p->poll, UV_READABLE, OnReadable);
  // A worker that ends without closing the poller still releases its sockets.
  napi_add_env_cleanup_hook(env, CleanupHook, p);
  napi_value ext;
  napi_create_external(env, p, FinalizePoller, nullptr, &ext);
  return ext;
}

// closePoller(poller): closes every socket it opened and stops reading. Closing again does nothing; any
// other call on a closed poller throws ECLOSED.
napi_value ClosePoller(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, 1, argv)) return nullptr;
  Poller* p = GetPoller(env, argv[0], true);
  if (!p) return nullptr;
  if (p->epfd >= 0) {
    napi_remove_env_cleanup_hook(env, CleanupHook, p);
    Shutdown(p, false);
  }
  return Undefined(env);
}

// open(poller, address, port, report) → fd. Bound exclusively (no SO_REUSEADDR), non-blocking, and
// watched: `report` sockets' datagrams go to onBatch, the others are read and dropped (RTCP).
napi_value Open(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!Args(env, info, 4, argv)) return nullptr;
  Poller* p = GetPoller(env, argv[0]);
  if (!p) return nullptr;
  if (p->closing) {
    napi_throw_error(env, "ECLOSED", "udp_batch: poller closed");
    return nullptr;
  }
  char text[kAddressText];
  size_t n = 0;
  napi_get_value_string_utf8(env, argv[1], text, sizeof text, &n);
  int port = GetInt(env, argv[2]);
  bool report = false;
  napi_get_value_bool(env, argv[3], &report);
  bool v6 = strchr(text, ':') != nullptr;
  sockaddr_storage ss;
  socklen_t len;
  if (!ToSockaddr(env, argv[1], port, v6, &ss, &len) || port < 0 || port > 65535) {
    napi_throw_error(env, "EINVAL", "udp_batch: bind address must be an IP literal and a port");
    return nullptr;
  }
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ThrowErrno(env, errno, "socket");
    return nullptr;
  }
  // As node:dgram's udp6: an IPv6 socket also takes IPv4 (as ::ffff:a.b.c.d).
  int off = 0;
  if (v6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
    int err = errno;
    close(fd);
    char what[kAddressText + 32];
    snprintf(what, sizeof what, "bind %s port %d", text, port);
    ThrowErrno(env, err, what);
    return nullptr;
  }
  epoll_event ev;
  ev.events = EPOLLIN;
  ev.data.u64 = static_cast<uint64_t>(fd) | (static_cast<uint64_t>(report ? 1 : 0) << 32);
  if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "epoll_ctl");
    return nullptr;
  }
  p->fds.insert(fd);
  return Int(env, fd);
}

// close(poller, fd): stops watching and closes a socket this poller opened (anything else is ignored).
napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!Args(env, info, 2, argv)) return nullptr;
  Poller* p = GetPoller(env, argv[0]);
  if (!p) return nullptr;
  int fd = GetInt(env, argv[1]);
  if (p->fds.erase(fd) == 1) {
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
  }
  return Undefined(env);
}

bool Owned(Poller* p, int fd) { return !p->closing && p->fds.count(fd) == 1; }

// connect(poller, fd, address, port) → 0 or -errno. address null: disconnect (AF_UNSPEC).
napi_value Connect(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!Args(env, info, 4, argv)) return nullptr;
  Poller* p = GetPoller(env, argv[0]);
  if (!p) return nullptr;
  int fd = GetInt(env, argv[1]);
  if (!Owned(p, fd)) return Int(env, -EBADF);
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  sockaddr_storage ss;
  socklen_t len;
  if (t != napi_string) {
    memset(&ss, 0, sizeof ss);
    ss.ss_family = AF_UNSPEC;
    len = sizeof(sockaddr);
  } else if (!ToSockaddr(env, argv[2], GetInt(env, argv[3]), IsV6Socket(fd), &ss, &len)) {
    return Int(env, -EINVAL);
  }
  int r = connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
  return Int(env, r < 0 ? -errno : 0);
}

int SendOne(int fd, const uint8_t* data, size_t length, const sockaddr* to, socklen_t tolen) {
  for (;;) {
    ssize_t r = sendto(fd, data, length, MSG_DONTWAIT, to, tolen);
    if (r >= 0) return 0;
    if (errno != EINTR) return -errno;
  }
}

// send(poller, fd, data: Uint8Array, length, address|null, port) → 0 or -errno (EAGAIN: dropped). Without
// an address the socket must be connected.
napi_value Send(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!Args(env, info, 6, argv)) return nullptr;
  Poller* p = GetPoller(env, argv[0]);
  if (!p) return nullptr;
  int fd = GetInt(env, argv[1]);
  if (!Owned(p, fd)) return Int(env, -EBADF);
  napi_typedarray_type type;
  size_t elements = 0, byteOffset = 0;
  void* data = nullptr;
  napi_value ab;
  if (napi_get_typedarray_info(env, argv[2], &type, &elements, &data, &ab, &byteOffset) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, nullptr, "udp_batch: send takes a Uint8Array");
    return nullptr;
  }
  size_t length = static_cast<size_t>(GetInt(env, argv[3]));
  if (length > elements) length = elements;
  napi_valuetype t;
  napi_typeof(env, argv[4], &t);
  int r;
  if (t == napi_string) {
    sockaddr_storage ss;
    socklen_t len;
    if (!ToSockaddr(env, argv[4], GetInt(env, argv[5]), IsV6Socket(fd), &ss, &len)) return Int(env, -EINVAL);
    r = SendOne(fd, static_cast<uint8_t*>(data), length, reinterpret_cast<sockaddr*>(&ss), len);
  } else {
    r = SendOne(fd, static_cast<uint8_t*>(data), length, nullptr, 0);
  }
  if (r == -EAGAIN || r == -EWOULDBLOCK) p->sendDrops++;
  return Int(env, r);
}

// flush(poller, count) → failures. Sends the first `count` rows of the send table (fd, offset into the
// receive buffer, length) on their connected sockets, writing each result into the row's 4th word.
napi_value Flush(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!Args(env, info, 2, argv)) return nullptr;
  Poller* p = GetPoller(env, argv[0]);
  if (!p) return nullptr;
  uint32_t count = static_cast<uint32_t>(GetInt(env, argv[1]));
  if (count > p->sendSlots) count = p->sendSlots;
  size_t total = static_cast<size_t>(p->slots) * p->slotSize;
  int failures = 0;
  for (uint32_t i = 0; i < count; i++) {
    int32_t* row = p->sends + i * kSendWords;
    int fd = row[0];
    size_t offset = static_cast<uint32_t>(row[1]);
    size_t length = static_cast<uint32_t>(row[2]);
    int r;
    if (!Owned(p, fd)) r = -EBADF;
    else if (offset + length > total) r = -EINVAL;
    else r = SendOne(fd, p->recv + offset, length, nullptr, 0);
    if (r == -EAGAIN || r == -EWOULDBLOCK) p->sendDrops++;
    row[3] = r;
    if (r != 0) failures++;
  }
  return Int(env, failures);
}

// address(poller, index) → the source address of the batch's datagram `index` as text (inet_ntop, the
// form node:dgram gives: ::ffff:a.b.c.d for IPv4 on an IPv6 socket). Valid during onBatch only.
napi_value Address(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!Args(env, info, 2, argv)) return nullptr;
  Poller* p = GetPoller(env, argv[0]);
  if (!p) return nullptr;
  uint32_t i = static_cast<uint32_t>(GetInt(env, argv[1]));
  char text[kAddressText] = "";
  if (i < p->slots && p->names) {
    const sockaddr_storage& ss = p->names[i];
    if (ss.ss_family == AF_INET6) {
      const auto& s6 = reinterpret_cast<const sockaddr_in6&>(ss);
      inet_ntop(AF_INET6, &s6.sin6_addr, text, sizeof text);
      // As node:dgram: a link-local source with its scope (fe80::1%eth0, or %index when the interface has
      // no name), so a reply or connect to that text reaches the same link.
      if (IN6_IS_ADDR_LINKLOCAL(&s6.sin6_addr) && s6.sin6_scope_id != 0) {
        size_t used = strlen(text);
        char name[IF_NAMESIZE];
        if (if_indextoname(s6.sin6_scope_id, name)) snprintf(text + used, sizeof text - used, "%%%s", name);
        else snprintf(text + used, sizeof text - used, "%%%u", s6.sin6_scope_id);
      }
    } else {
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, text, sizeof text);
    }
  }
  napi_value s;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &s);
  return s;
}

// counters(poller) → [sends dropped (EAGAIN), datagrams truncated]
napi_value Counters(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, 1, argv)) return nullptr;
  Poller* p = GetPoller(env, argv[0]);
  if (!p) return nullptr;
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, Int(env, static_cast<int64_t>(p->sendDrops)));
  napi_set_element(env, arr, 1, Int(env, static_cast<int64_t>(p->truncated)));
  return arr;
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"createPoller", nullptr, CreatePoller, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"closePoller", nullptr, ClosePoller, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"open", nullptr, Open, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"connect", nullptr, Connect, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"send", nullptr, Send, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"flush", nullptr, Flush, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"address", nullptr, Address, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"counters", nullptr, Counters, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return Init(env, exports); }
