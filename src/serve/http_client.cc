#include "serve/http_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace recsys {

namespace {

constexpr size_t kMaxHeaderBytes = 1 << 20;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool HasToken(std::string_view value, std::string_view token) {
  return ToLower(value).find(token) != std::string::npos;
}

}  // namespace

std::string HttpClientResponse::Header(std::string_view name) const {
  std::string lower = ToLower(name);
  for (const auto& [k, v] : headers) {
    if (k == lower) return v;
  }
  return {};
}

HttpClient::HttpClient(std::string host, int port, int timeout_ms)
    : host_(std::move(host)), port_(port), timeout_ms_(timeout_ms) {}

HttpClient::~HttpClient() { Close(); }

void HttpClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  reused_ = false;
  buf_.clear();
}

Status HttpClient::Connect() {
  Close();
  std::string where = "connect " + host_ + ":" + std::to_string(port_);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addrs = nullptr;
  int rc = ::getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &addrs);
  if (rc != 0) return Status::Unavailable(where + ": " + gai_strerror(rc));
  Status last = Status::Unavailable(where + ": no address");
  for (addrinfo* a = addrs; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last = Status::FromErrno("socket", where, errno);
      continue;
    }
    // Non-blocking connect bounded by poll, then blocking I/O bounded by SO_*TIMEO.
    int flags = ::fcntl(fd, F_GETFL, 0);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int err = 0;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int n = ::poll(&p, 1, timeout_ms_);
        if (n == 0) {
          err = ETIMEDOUT;
        } else if (n < 0) {
          err = errno;
        } else {
          socklen_t len = sizeof(err);
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
      }
    }
    if (err != 0) {
      ::close(fd);
      last = Status::Unavailable(where + ": " + std::strerror(err));
      continue;
    }
    ::fcntl(fd, F_SETFL, flags);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval tv{timeout_ms_ / 1000, (timeout_ms_ % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    fd_ = fd;
    break;
  }
  ::freeaddrinfo(addrs);
  return fd_ >= 0 ? Status::OK() : last;
}

Status HttpClient::SendAll(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return Status::Unavailable("send to " + host_ + ":" + std::to_string(port_) +
                                   ": timed out");
      }
      return Status::FromErrno("send", host_ + ":" + std::to_string(port_), errno);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

Result<size_t> HttpClient::ReadMore() {
  if (fd_ < 0) return Status::Unavailable("not connected");
  pollfd p{fd_, POLLIN, 0};
  int n = ::poll(&p, 1, timeout_ms_);
  if (n == 0) {
    return Status::Unavailable("receive from " + host_ + ":" + std::to_string(port_) +
                               ": timed out after " + std::to_string(timeout_ms_) + " ms");
  }
  if (n < 0) return Status::FromErrno("poll", host_, errno);
  char chunk[16384];
  for (;;) {
    ssize_t got = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Status::FromErrno("recv", host_ + ":" + std::to_string(port_), errno);
    buf_.append(chunk, static_cast<size_t>(got));
    received_ += static_cast<size_t>(got);
    return static_cast<size_t>(got);
  }
}

Status HttpClient::SendRaw(std::string_view bytes) {
  if (fd_ < 0) RECSYS_RETURN_IF_ERROR(Connect());
  return SendAll(bytes);
}

Status HttpClient::WaitForClose(int timeout_ms) {
  if (fd_ < 0) return Status::OK();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return Status::Unavailable("the connection is still open");
    pollfd p{fd_, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n == 0) continue;
    char chunk[4096];
    ssize_t got = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (got <= 0) {
      Close();
      return Status::OK();
    }
  }
}

namespace {

// A response parsed from the front of a buffer; *consumed says how much it took.
struct ParsedHead {
  int status = 0;
  bool http10 = false;
  size_t header_end = 0;  // offset of the body
};

bool ParseHead(std::string_view head, HttpClientResponse* r, ParsedHead* out) {
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/") return false;
  out->http10 = line.substr(0, 8) == "HTTP/1.0";
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos || sp + 4 > line.size()) return false;
  int status = 0;
  for (size_t i = sp + 1; i < sp + 4; ++i) {
    if (line[i] < '0' || line[i] > '9') return false;
    status = status * 10 + (line[i] - '0');
  }
  r->status = status;
  r->headers.clear();
  std::string_view rest = head.substr(eol + 2);
  while (!rest.empty()) {
    size_t e = rest.find("\r\n");
    std::string_view field = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 2);
    if (field.empty()) break;
    size_t colon = field.find(':');
    if (colon == std::string_view::npos) return false;
    r->headers.emplace_back(ToLower(field.substr(0, colon)),
                            std::string(Trim(field.substr(colon + 1))));
  }
  return true;
}

}  // namespace

Result<HttpClientResponse> HttpClient::ReadResponse() {
  HttpClientResponse r;
  for (;;) {  // skips 1xx interim answers
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (buf_.size() > kMaxHeaderBytes) return Status::Corruption("response header too large");
      RECSYS_ASSIGN_OR_RETURN(size_t n, ReadMore());
      if (n == 0) {
        Close();
        return Status::Unavailable("the server closed the connection before an answer");
      }
    }
    ParsedHead head;
    if (!ParseHead(std::string_view(buf_).substr(0, end + 2), &r, &head)) {
      Close();
      return Status::Corruption("malformed response head: " + buf_.substr(0, end));
    }
    buf_.erase(0, end + 4);
    if (r.status >= 100 && r.status < 200) continue;

    bool close = HasToken(r.Header("connection"), "close") ||
                 (head.http10 && !HasToken(r.Header("connection"), "keep-alive"));
    std::string te = r.Header("transfer-encoding");
    std::string cl = r.Header("content-length");
    if (head_request_ || r.status == 204 || r.status == 304) {
      // no body
    } else if (HasToken(te, "chunked")) {
      for (;;) {
        size_t eol;
        while ((eol = buf_.find("\r\n")) == std::string::npos) {
          RECSYS_ASSIGN_OR_RETURN(size_t n, ReadMore());
          if (n == 0) return Status::Corruption("truncated chunked body");
        }
        size_t size = std::strtoul(buf_.substr(0, eol).c_str(), nullptr, 16);
        buf_.erase(0, eol + 2);
        while (buf_.size() < size + 2) {
          RECSYS_ASSIGN_OR_RETURN(size_t n, ReadMore());
          if (n == 0) return Status::Corruption("truncated chunked body");
        }
        r.body.append(buf_, 0, size);
        buf_.erase(0, size + 2);
        if (size == 0) break;  // (trailers are not supported)
      }
    } else if (!cl.empty()) {
      size_t size = std::strtoul(cl.c_str(), nullptr, 10);
      while (buf_.size() < size) {
        RECSYS_ASSIGN_OR_RETURN(size_t n, ReadMore());
        if (n == 0) {
          Close();
          return Status::Corruption("truncated body");
        }
      }
      r.body = buf_.substr(0, size);
      buf_.erase(0, size);
    } else {
      for (;;) {
        RECSYS_ASSIGN_OR_RETURN(size_t n, ReadMore());
        if (n == 0) break;
      }
      r.body = std::move(buf_);
      buf_.clear();
      close = true;
    }
    if (close) Close();
    return r;
  }
}

Result<HttpClientResponse> HttpClient::Request(
    std::string_view method, std::string_view target, std::string_view body,
    std::vector<std::pair<std::string, std::string>> headers) {
  bool has_host = false;
  bool has_length = false;
  for (const auto& [k, v] : headers) {
    std::string lower = ToLower(k);
    has_host |= lower == "host";
    has_length |= lower == "content-length" || lower == "transfer-encoding";
  }
  std::string req;
  req.reserve(128 + body.size());
  req.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  if (!has_host) req.append("Host: ").append(host_).append(":").append(std::to_string(port_));
  if (!has_host) req.append("\r\n");
  if (!has_length && (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")) {
    req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  for (const auto& [k, v] : headers) req.append(k).append(": ").append(v).append("\r\n");
  req.append("\r\n").append(body);

  head_request_ = method == "HEAD";
  for (int attempt = 0;; ++attempt) {
    bool reused = fd_ >= 0 && reused_;
    if (fd_ < 0) RECSYS_RETURN_IF_ERROR(Connect());
    Status sent = SendAll(req);
    if (!sent.ok()) {
      Close();
      if (reused && attempt == 0) continue;
      return sent;
    }
    received_ = 0;
    Result<HttpClientResponse> r = ReadResponse();
    if (!r.ok()) {
      // A kept-alive connection the server had closed fails before any byte of the answer.
      bool retry = reused && attempt == 0 && received_ == 0 &&
                   r.status().message().find("timed out") == std::string::npos;
      Close();
      if (retry) continue;
      return r.status();
    }
    head_request_ = false;
    if (fd_ >= 0) reused_ = true;
    return r;
  }
}

}  // namespace recsys
