/*
 * cpu.c - a CPU-bound benchmark guest for runw, built both natively and for
 * wasm32-wasi so the two can be compared.
 *
 * Usage: cpu [ROUNDS]
 *
 * Each round runs a sieve of Eratosthenes up to SIEVE_LIMIT and a
 * MAT_N x MAT_N integer matrix multiply (unsigned 32-bit, wrapping), and
 * folds both results into a checksum. Only integer arithmetic is used, so the
 * output is identical on every target. The default ROUNDS makes a native -O2
 * build take about one second on a modern core; the work grows linearly with
 * ROUNDS. The only output is one line on stdout:
 *
 *   rounds=R primes=P checksum=C
 *
 * Plain C99, no threads, no host calls in the hot loops.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ROUNDS 150
#define SIEVE_LIMIT 2000000
#define MAT_N 160

static unsigned char sieve[SIEVE_LIMIT + 1];
static uint32_t ma[MAT_N][MAT_N], mb[MAT_N][MAT_N], mc[MAT_N][MAT_N];

/* count_primes returns the number of primes <= SIEVE_LIMIT. */
static uint32_t count_primes(void)
{
	uint32_t count = 0;
	memset(sieve, 1, sizeof sieve);
	sieve[0] = sieve[1] = 0;
	for (uint32_t i = 2; (uint64_t)i * i <= SIEVE_LIMIT; i++)
		if (sieve[i])
			for (uint32_t j = i * i; j <= SIEVE_LIMIT; j += i)
				sieve[j] = 0;
	for (uint32_t i = 0; i <= SIEVE_LIMIT; i++)
		count += sieve[i];
	return count;
}

/* matmul fills A and B from a linear congruential generator seeded with
 * seed, computes C = A*B and returns a checksum of C. */
static uint32_t matmul(uint32_t seed)
{
	uint32_t x = seed, sum = 0;
	for (int i = 0; i < MAT_N; i++)
		for (int j = 0; j < MAT_N; j++) {
			x = x * 1664525u + 1013904223u;
			ma[i][j] = x >> 16;
			x = x * 1664525u + 1013904223u;
			mb[i][j] = x >> 16;
		}
	for (int i = 0; i < MAT_N; i++)
		for (int j = 0; j < MAT_N; j++) {
			uint32_t s = 0;
			for (int k = 0; k < MAT_N; k++)
				s += ma[i][k] * mb[k][j];
			mc[i][j] = s;
		}
	for (int i = 0; i < MAT_N; i++)
		for (int j = 0; j < MAT_N; j++)
			sum = sum * 31u + mc[i][j];
	return sum;
}

int main(int argc, char **argv)
{
	long rounds = DEFAULT_ROUNDS;
	uint32_t primes = 0, checksum = 0;

	if (argc > 1) {
		char *end;
		rounds = strtol(argv[1], &end, 10);
		if (*end != '\0' || rounds < 1) {
			fprintf(stderr, "usage: %s [ROUNDS>0]\n", argv[0]);
			return 2;
		}
	}
	for (long r = 0; r < rounds; r++) {
		primes = count_primes();
		checksum = checksum * 16777619u ^ primes;
		checksum = checksum * 16777619u ^ matmul((uint32_t)r);
	}
	printf("rounds=%ld primes=%u checksum=%u\n", rounds, (unsigned)primes,
	       (unsigned)checksum);
	return 0;
}
