/*
 * Salamander for C++ codes that keep their data in std::vector: header-only helpers in namespace
 * sal over the C API of salamander.h (C++11). They return the C status codes (SAL_OK, SAL_ERR_*;
 * detail in sal_last_error()) and throw nothing of their own.
 *
 *     sal::protect_all({{"x", x}, {"v", v}, {"e", e}, {"t", t}});  // per-rank data, all or nothing
 *     sal::protect("u", u, global_n, first);                        // a block of a 1-D global
 * array
 *
 * Rule: a protected vector must not be resized, reserved beyond its capacity, swapped, moved from
 * or assigned a vector of another length until sal_finalize: Salamander keeps the address and the
 * size its data() had when it was protected, reads them at every checkpoint and overwrites them at
 * every restore. Element values may change freely. sal::check_unmoved() tells whether the rule
 * held.
 */
#ifndef SALAMANDER_HPP
#define SALAMANDER_HPP

#include <salamander/salamander.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

namespace sal
{

namespace detail
{

// The sal_type_t of a C++ element type; other types fail to compile.
template <typename T> struct type_of {
    static_assert(sizeof(T) == 0, "sal: element type must be double, float, int, int64_t or char");
};
template <> struct type_of<double> {
    static const sal_type_t value = SAL_DOUBLE;
};
template <> struct type_of<float> {
    static const sal_type_t value = SAL_FLOAT;
};
template <> struct type_of<int> {
    static const sal_type_t value = SAL_INT;
};
template <> struct type_of<std::int64_t> {
    static const sal_type_t value = SAL_INT64;
};
template <> struct type_of<char> {
    static const sal_type_t value = SAL_CHAR;
};

// Where a vector's elements are now, for check_unmoved (owner is a std::vector<T>).
typedef void (*probe_fn)(const void *owner, const void **data, std::size_t *bytes);

template <typename T> void probe(const void *owner, const void **data, std::size_t *bytes)
{
    const std::vector<T> &v = *static_cast<const std::vector<T> *>(owner);
    *data = v.data();
    *bytes = v.size() * sizeof(T);
}

// A vector protected through these helpers, with the storage it had then.
struct tracked {
    std::string name;
    const void *owner;
    probe_fn now;
    const void *data;
    std::size_t bytes;
};

inline std::vector<tracked> &tracked_vectors()
{
    static std::vector<tracked> list;
    return list;
}

inline void track(const char *name, const void *owner, probe_fn now, const void *data,
                  std::size_t bytes)
{
    tracked t = {name, owner, now, data, bytes};
    tracked_vectors().push_back(t);
}

template <typename T> void track(const char *name, const std::vector<T> &v)
{
    track(name, &v, probe<T>, v.data(), v.size() * sizeof(T));
}

// The size in bytes of v's elements, for the per-rank data of protect_local and protect_all.
template <typename T> std::size_t local_bytes(const std::vector<T> &v)
{
    static_assert(std::is_trivially_copyable<T>::value,
                  "sal: vector elements must be trivially copyable");
    return v.size() * sizeof(T);
}

} // namespace detail

// Protects the bytes of v as per-rank data (sal_protect_local): restored to the same rank number,
// whatever v's length on other ranks. T must be trivially copyable. Local.
template <typename T> int protect_local(const char *name, std::vector<T> &v)
{
    int rc = sal_protect_local(name, v.data(), detail::local_bytes(v));
    if (rc == SAL_OK)
        detail::track(name, v);
    return rc;
}

// Protects v as the block [offset, offset + v.size()) of a 1-D global array of global_n elements
// (sal_protect), which a restore on another number of ranks redistributes. T: double, float, int,
// int64_t or char. Local.
template <typename T>
int protect(const char *name, std::vector<T> &v, std::int64_t global_n, std::int64_t offset)
{
    std::int64_t count = static_cast<std::int64_t>(v.size());
    int rc = sal_protect(name, v.data(), detail::type_of<T>::value, 1, &global_n, &offset, &count);
    if (rc == SAL_OK)
        detail::track(name, v);
    return rc;
}

// One entry of protect_all: a vector as per-rank data (as protect_local), or a scalar of a mapped
// type as a per-rank scalar (as sal_protect_scalar). Refers to the variable, does not copy it.
class region
{
  public:
    template <typename T>
    region(const char *name, std::vector<T> &v) : owner_(&v), now_(detail::probe<T>)
    {
        spec_ = spec(SAL_REGION_LOCAL, name, v.data());
        spec_.bytes = detail::local_bytes(v);
    }
    template <typename T> region(const char *name, T &x) : owner_(NULL), now_(NULL)
    {
        spec_ = spec(SAL_REGION_SCALAR, name, &x);
        spec_.type = detail::type_of<T>::value;
    }

    const sal_region_spec_t &c_spec() const
    {
        return spec_;
    }

    // Remembers the vector's storage for check_unmoved (nothing for a scalar).
    void track() const
    {
        if (owner_)
            detail::track(spec_.name, owner_, now_, spec_.base, spec_.bytes);
    }

  private:
    static sal_region_spec_t spec(sal_region_kind_t kind, const char *name, void *base)
    {
        sal_region_spec_t s = sal_region_spec_t();
        s.kind = kind;
        s.name = name;
        s.base = base;
        return s;
    }

    sal_region_spec_t spec_;
    const void *owner_;
    detail::probe_fn now_;
};

// Protects every region of the list with one sal_protect_many: all or nothing (on an error none of
// them stays protected and sal_last_error() names the failing one). Local.
inline int protect_all(std::initializer_list<region> regions)
{
    std::vector<sal_region_spec_t> specs;
    specs.reserve(regions.size());
    for (const region &r : regions)
        specs.push_back(r.c_spec());
    int rc = sal_protect_many(specs.data(), static_cast<int>(specs.size()));
    if (rc == SAL_OK)
        for (const region &r : regions)
            r.track();
    return rc;
}

// sal_unprotect, and check_unmoved no longer checks the vector. Local.
inline int unprotect(const char *name)
{
    int rc = sal_unprotect(name);
    std::vector<detail::tracked> &list = detail::tracked_vectors();
    for (std::size_t i = 0; rc == SAL_OK && i < list.size(); i++)
        if (list[i].name == name) {
            list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
            break;
        }
    return rc;
}

// Checks that every vector protected through these helpers still has the data() and the size it
// had when it was protected. SAL_OK, or SAL_ERR_STATE with *moved (if not NULL) set to the name of
// the first vector that moved. Call it while those vectors exist (e.g. after each step in a debug
// build); a vector that moved is no longer checkpointed or restored correctly. Local.
inline int check_unmoved(const char **moved = NULL)
{
    for (const detail::tracked &t : detail::tracked_vectors()) {
        const void *data;
        std::size_t bytes;
        t.now(t.owner, &data, &bytes);
        if (data != t.data || bytes != t.bytes) {
            if (moved)
                *moved = t.name.c_str();
            return SAL_ERR_STATE;
        }
    }
    return SAL_OK;
}

} // namespace sal

#endif
