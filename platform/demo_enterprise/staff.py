"""The company's people: HR's employees and departments, and the sales reps CRM and ERP know."""

import random
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from demo_enterprise import mess, vocab
from demo_enterprise.clock import HISTORY_START, NOW0, some_day, stamp, utc_text
from demo_enterprise.draws import Record, pick, scaled

SALES = "D01"
EMPLOYEES = 200  # per unit of scale
_DEPARTMENTS_CREATED = datetime(2020, 1, 1, 8, 0)


@dataclass(slots=True)
class Employee:
    n: int
    surname: tuple[str, str]
    given: tuple[str, str, str]
    served_in_hanzi: bool
    gender_style: str  # "latin" (M/F), "hanzi" (男/女) or "null"
    hire_date: date
    dept: str
    region: str
    salary: Decimal
    salary_style: str
    email_style: str
    created_at: datetime
    updated_at: datetime

    @property
    def hanzi(self) -> str:
        return self.surname[0] + self.given[0]

    @property
    def pinyin(self) -> str:
        return f"{self.surname[1].title()} {self.given[1].title()}"

    @property
    def name(self) -> str:
        return self.hanzi if self.served_in_hanzi else self.pinyin

    @property
    def email(self) -> str:
        return f"{self.surname[1]}.{self.given[1]}{self.n}@corp.example"

    @property
    def is_sales(self) -> bool:
        return self.dept == SALES


def _department(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return SALES
    return rng.choice(vocab.DEPARTMENTS[1:])[0]


def _salary(rng: random.Random, dept: str) -> Decimal:
    low, high = vocab.SALARY_BANDS.get(dept, vocab.DEFAULT_SALARY_BAND)
    return Decimal(rng.randint(low // 100, high // 100) * 100)


class Staff:
    """Everyone ever hired, in hiring order, and the sales reps sorted by hire date."""

    def __init__(self) -> None:
        self.employees: list[Employee] = []
        self._sales_hire_dates: list[date] = []  # sorted, parallel to _sales_by_hire
        self._sales_by_hire: list[int] = []

    def history(self, rng: random.Random, scale: float) -> None:
        """The staff hired before NOW0; employee 1 is an early sales hire, so every order
        date has a rep to sell it."""
        for n in range(1, max(1, round(EMPLOYEES * scale)) + 1):
            if n == 1:
                dept, first, last = SALES, date(2012, 1, 1), date(2019, 12, 31)
            elif rng.random() < 0.75:
                dept, first, last = _department(rng), date(2012, 1, 1), date(2023, 12, 31)
            else:
                dept, first, last = _department(rng), HISTORY_START, NOW0
            hire_date = some_day(rng, first, last)
            self._hire(rng, dept, hire_date, stamp(rng, hire_date))

    def advance(self, rng: random.Random, today: date, scale: float) -> None:
        """One day at HR: about one in a hundred gets a raise, and one or two are hired."""
        for employee in self.employees:
            if rng.random() < 0.01:
                raised = employee.salary * (100 + rng.randint(3, 15)) / 10_000
                employee.salary = raised.quantize(Decimal(1), rounding=ROUND_HALF_UP) * 100
                employee.updated_at = stamp(rng, today)
        for _ in range(scaled(rng, 1, 2, scale)):
            dept = _department(rng)
            self._hire(rng, dept, today, stamp(rng, today))

    def _hire(self, rng: random.Random, dept: str, hire_date: date, created_at: datetime) -> None:
        employee = Employee(
            n=len(self.employees) + 1,
            surname=rng.choice(vocab.SURNAMES),
            given=rng.choice(vocab.GIVEN_NAMES),
            served_in_hanzi=rng.random() < 0.5,
            gender_style=pick(rng, mess.GENDER_STYLES),
            hire_date=hire_date,
            dept=dept,
            region=rng.choice(vocab.SALES_REGIONS),
            salary=_salary(rng, dept),
            salary_style=pick(rng, mess.SALARY_STYLES),
            email_style=pick(rng, mess.EMAIL_STYLES),
            created_at=created_at,
            updated_at=created_at,
        )
        self.employees.append(employee)
        if employee.is_sales:
            at = bisect_right(self._sales_hire_dates, hire_date)
            self._sales_hire_dates.insert(at, hire_date)
            self._sales_by_hire.insert(at, employee.n)

    def owner_for(self, rng: random.Random, created: date) -> int:
        """A rep hired by `created` (or the first rep) to own a customer created then."""
        hired = bisect_right(self._sales_hire_dates, created) or 1
        return self._sales_by_hire[rng.randrange(hired)]

    def any_rep(self, rng: random.Random) -> int:
        return rng.choice(self._sales_by_hire)

    def seller(self, rng: random.Random, owner: int, day: date) -> int:
        """The customer's owner, or any rep already hired when the owner was not yet."""
        if self.employees[owner - 1].hire_date <= day:
            return owner
        hired = bisect_right(self._sales_hire_dates, day)
        return self._sales_by_hire[rng.randrange(hired)] if hired else owner

    # -- as served, and the truth ---------------------------------------------------------

    def hr_employees(self) -> list[Record]:
        return [
            {
                "staffID": f"S{e.n:05d}",
                "name": e.name,
                "gender": mess.gender(e.given[2], e.gender_style),
                "hireDate": e.hire_date.strftime("%d/%m/%Y"),
                "deptCode": e.dept,
                "email": mess.email(e.email, e.email_style),
                "monthlySalary": mess.salary(e.salary, e.salary_style),
                "updated_at": utc_text(e.updated_at),
            }
            for e in self.employees
        ]

    @staticmethod
    def hr_departments() -> list[Record]:
        return [
            {
                "deptCode": code,
                "deptName": name,
                "deptNameZh": name_zh,
                "updated_at": utc_text(_DEPARTMENTS_CREATED),
            }
            for code, name, name_zh in vocab.DEPARTMENTS
        ]

    def crm_users(self) -> list[Record]:
        return [
            {
                "user_id": f"u{e.n}",
                "full_name": e.pinyin,
                "email": e.email,
                "modified_at": utc_text(e.created_at),
            }
            for e in self.employees
            if e.is_sales
        ]

    def erp_sales_reps(self) -> list[Record]:
        return [
            {"empNo": e.n, "rep_name": e.hanzi, "region": e.region, "updated_at": e.created_at}
            for e in self.employees
            if e.is_sales
        ]

    def truth(self) -> list[Record]:
        return [
            {
                "employee_id": f"E{e.n:05d}",
                "staff_id": f"S{e.n:05d}",
                "emp_no": e.n if e.is_sales else None,
                "crm_user_id": f"u{e.n}" if e.is_sales else None,
                "name": e.name,
                "gender": "U" if e.gender_style == "null" else e.given[2],
                "hire_date": e.hire_date,
                "department_code": e.dept,
                "monthly_salary_cny": e.salary,
                "email": e.email,
            }
            for e in self.employees
        ]
